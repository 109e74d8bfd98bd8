"""shoal: a self-hosted data lake analytics service.

>>> import shoal
>>> with shoal.open(data_dir="shoal-data") as lake:
...     [db.name for db in lake.catalog.list_databases()]
"""

from __future__ import annotations

from shoal.app import Shoal, open
from shoal.config import Config, load_config
from shoal.errors import ShoalError

__all__ = ["Config", "Shoal", "ShoalError", "load_config", "open"]
__version__ = "0.1.0"
