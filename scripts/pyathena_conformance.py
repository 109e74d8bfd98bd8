"""Run PyAthena's own test suite against a real ``shoal serve``; print the pass rates.

    python scripts/pyathena_conformance.py SUITE_PYTHON SUITE_DIR [PYTEST_ARGS...]

SUITE_PYTHON is the separate environment holding the PyAthena snapshot and its test
dependencies; SUITE_DIR a writable copy of the snapshot (its ``tests`` run from there).
This process runs in shoal's own environment: it starts the server with the helper the
client tests use (tests/clients/server.py), creates the staging bucket and the
workgroups the suite names, then runs ``tests/pyathena`` (minus the exclusions in
scripts/pyathena-conformance-exclude.txt) and the SQLAlchemy compliance suite
(``tests/sqlalchemy``) as two pytest sessions, each scored from its JUnit XML.
PYTEST_ARGS replace the default selection of the main suite (to iterate on a subset):
``-- tests/pyathena/test_cursor.py -k decimal``; SQLALCHEMY=0 skips the second run.

Exit status: 0 when the main suite's pass rate reaches PASS_RATE (default 0.97).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.clients.server import ShoalServer, start_server, stop_server  # noqa: E402

EXCLUDE_FILE = REPO / "scripts" / "pyathena-conformance-exclude.txt"
STAGING_BUCKET = "pyathena-conformance"
STAGING_DIR = f"s3://{STAGING_BUCKET}/staging/"
WORKGROUP = "pyathena-conformance"
SPARK_WORKGROUP = "pyathena-conformance-spark"  # named by tests/__init__.py; never used
TIMEOUT = "300"  # seconds per test: a hang is a failure, not a stuck CI job


@dataclass
class Score:
    """Outcomes of one pytest session, counted from its JUnit XML."""

    counts: Counter[str]
    seconds: float

    @property
    def run(self) -> int:
        """Tests that ran: skipped ones did not."""
        return self.counts["passed"] + self.counts["failed"] + self.counts["error"]

    @property
    def rate(self) -> float:
        return self.counts["passed"] / self.run if self.run else 0.0

    def line(self, name: str) -> str:
        rest = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()) if k != "passed")
        return (
            f"{name}: {self.counts['passed']} passed of {self.run} run = {self.rate:.1%} "
            f"({rest}; {self.seconds:.0f} s)"
        )


def read_exclusions() -> tuple[list[str], list[str]]:
    """(folders/files to ``--ignore``, test ids to ``--deselect``) from the exclude file.

    Each entry is ``<path or test id>  # reason``; an entry ending in ``/`` is a folder.
    """
    ignore: list[str] = []
    deselect: list[str] = []
    for raw in EXCLUDE_FILE.read_text().splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        (ignore if entry.endswith("/") else deselect).append(entry)
    return ignore, deselect


def prepare(server: ShoalServer) -> None:
    """The staging bucket and the workgroups the suite's environment names."""
    server.client("s3").create_bucket(Bucket=STAGING_BUCKET)
    athena = server.client("athena")
    result = {"ResultConfiguration": {"OutputLocation": STAGING_DIR}}
    for name in (WORKGROUP, SPARK_WORKGROUP):
        athena.create_work_group(Name=name, Configuration=result)


def suite_env(server: ShoalServer) -> dict[str, str]:
    """The environment PyAthena's tests read their endpoint and settings from."""
    return server.env(
        AWS_ENDPOINT_URL=server.url,
        AWS_ATHENA_S3_STAGING_DIR=STAGING_DIR,
        AWS_ATHENA_WORKGROUP=WORKGROUP,
        AWS_ATHENA_DEFAULT_WORKGROUP="primary",
        AWS_ATHENA_SPARK_WORKGROUP=SPARK_WORKGROUP,
    )


def run_pytest(python: str, suite: Path, env: dict[str, str], args: list[str]) -> Score:
    """One pytest session in the suite's environment, scored from its JUnit XML."""
    report = Path(tempfile.mkdtemp(prefix="pyathena-junit-")) / "report.xml"
    cmd = [python, "-m", "pytest", f"--junitxml={report}", f"--timeout={TIMEOUT}", *args]
    print("+", " ".join(cmd), flush=True)
    start = time.monotonic()
    subprocess.run(cmd, cwd=suite, env=env, check=False)
    return Score(count_outcomes(report), time.monotonic() - start)


def count_outcomes(report: Path) -> Counter[str]:
    """passed / failed / error / skipped per test case of a JUnit XML report."""
    counts: Counter[str] = Counter()
    if not report.exists():
        return counts
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        if "error" in kinds:
            counts["error"] += 1
        elif "failure" in kinds:
            counts["failed"] += 1
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def main_suite_args(extra: list[str]) -> list[str]:
    """The default selection (tests/pyathena minus the exclusions), or ``extra``."""
    ignore, deselect = read_exclusions()
    chosen = extra or ["tests/pyathena", "-n", os.environ.get("WORKERS", "2")]
    flags = [f"--ignore={path}" for path in ignore] + [f"--deselect={t}" for t in deselect]
    # The defaults first: options given in ``extra`` (``--tb=short``) override them.
    return ["-q", "-rfE", "--tb=line", "-p", "no:cacheprovider", *flags, *chosen]


def main() -> int:
    python, suite, extra = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    data = Path(tempfile.mkdtemp(prefix="shoal-pyathena-")) / "data"
    server = start_server(data)
    print(f"shoal serve at {server.url}, data in {data}", flush=True)
    try:
        prepare(server)
        env = suite_env(server)
        scores = [("PyAthena suite", run_pytest(python, suite, env, main_suite_args(extra)))]
        if os.environ.get("SQLALCHEMY", "1") != "0":
            sqla = ["tests/sqlalchemy", "-q", "--tb=no", "-p", "no:cacheprovider"]
            scores.append(("SQLAlchemy compliance", run_pytest(python, suite, env, sqla)))
    finally:
        stop_server(server)
    print()
    for name, score in scores:
        print(score.line(name))
    return 0 if scores[0][1].rate >= float(os.environ.get("PASS_RATE", "0.97")) else 1


if __name__ == "__main__":
    sys.exit(main())
