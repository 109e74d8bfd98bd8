"""The crawler: find tables in folders of CSV, JSON and Parquet files, as Glue does.

``run_crawler`` runs a stored crawler definition; ``crawl_path`` crawls one path ad
hoc. Both return the finished ``CrawlRun`` with counters and a log of decisions.
"""

from __future__ import annotations

from shoal.crawler.runner import crawl_path, run_crawler

__all__ = ["crawl_path", "run_crawler"]
