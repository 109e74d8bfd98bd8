"""Settings: one typed table drives validation, ``--help`` text and the docs.

Precedence, lowest first: defaults < config file (TOML) < ``SHOAL_*`` environment <
explicit overrides (CLI flags). The result is a frozen ``Config``. Secrets are never
shown: ``Config.describe()`` and ``repr`` mask them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from shoal.errors import ConfigError

ENV_PREFIX = "SHOAL_"
MASK = "********"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, how to parse it, its default and what it is for."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _optional(text: str) -> str | None:
    return text or None


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def _optional_size(text: str) -> int | None:
    """A byte count, plain or with a unit (``500MB``, ``2GiB``); empty: None."""
    text = text.strip().lower().replace(" ", "")
    if not text or text == "none":
        return None
    digits = text.rstrip("kmgtib")
    unit = _SIZE_UNITS.get(text[len(digits) :])
    if unit is None or not digits.isdigit():
        raise ValueError("must be a number of bytes, optionally with a unit (500MB, 2GiB)")
    value = int(digits) * unit
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number between 0 and 65535")
    return value


def _boolean(text: str) -> bool:
    # str(True) from a TOML file is "True"; the environment says "true", "1", "off"...
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _account_id(text: str) -> str:
    if len(text) != 12 or not text.isdigit():
        raise ValueError("must be 12 digits")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", str, "shoal-data", "Folder holding the lake, catalog and state."),
    Setting(
        "catalog_url",
        _optional,
        None,
        "SQLAlchemy URL of the catalog database (default: SQLite in the data folder; "
        "postgresql+psycopg://… for shared deployments).",
        secret=True,  # URLs may embed a password
    ),
    Setting(
        "storage_endpoint_url",
        _optional,
        None,
        "S3-compatible endpoint for the lake (default: local folders under data_dir/lake).",
    ),
    Setting("storage_access_key_id", _optional, None, "Access key id for the S3 endpoint."),
    Setting(
        "storage_secret_access_key",
        _optional,
        None,
        "Secret access key for the S3 endpoint.",
        secret=True,
    ),
    Setting("region", str, "us-east-1", "Region name shoal reports and signs with."),
    Setting("engine_threads", _positive_int, 2, "DuckDB threads shared by all queries."),
    Setting("engine_memory_limit", str, "4GB", "DuckDB memory limit before spilling to disk."),
    Setting(
        "engine_direct_reads",
        _boolean,
        True,
        "Let DuckDB read local table files itself, inside the storage roots (fast); "
        "false routes every read through shoal's read-only filesystem (10-15% slower), "
        "so DuckDB cannot open lake files even if both statement checks were bypassed.",
    ),
    Setting(
        "spark_connect_url",
        _optional,
        None,
        "Spark Connect address (sc://host:port) for workgroups pinned to Spark "
        '(EngineVersion "PySpark engine version 3") and big queries of AUTO ones '
        "(spark_auto_min_bytes); needs the spark extra (pyspark).",
    ),
    Setting(
        "spark_auto_min_bytes",
        _optional_size,
        None,
        "Workgroups with EngineVersion AUTO run a query on Spark when its estimated bytes "
        "(after partition pruning and column projection) reach this (500MB, 2GiB; needs "
        "spark_connect_url). Unset: AUTO always runs on DuckDB, which won at every size "
        "measured on 2 cores (docs/benchmarks.md).",
    ),
    # -- API server (shoal serve) --
    Setting("host", str, "127.0.0.1", "Address `shoal serve` listens on."),
    Setting("port", _port, 8066, "Port `shoal serve` listens on (0: any free port)."),
    Setting(
        "root_access_key_id",
        _optional,
        None,
        "Access key id of the bootstrap admin (default: generated on first start and "
        "written to DATA/root-credentials).",
    ),
    Setting(
        "root_secret_access_key",
        _optional,
        None,
        "Secret access key of the bootstrap admin.",
        secret=True,
    ),
    Setting("account_id", _account_id, "123456789012", "12-digit account id shoal reports."),
    Setting(
        "body_timeout_seconds",
        _positive_int,
        30,
        "A request body that sends nothing for this long ends its request (408 RequestTimeout).",
    ),
    Setting(
        "body_bytes_in_flight",
        _positive_int,
        256 * 1024 * 1024,
        "Most request-body bytes held in memory at once, over all requests; past it a "
        "request is refused with 503 SlowDown (object data streams and holds little).",
    ),
    # -- audit trail (audit/) --
    Setting("audit_bucket", str, "shoal-audit", "System bucket the audit trail is written to."),
    Setting(
        "audit_roll_seconds",
        _positive_int,
        300,
        "How often the audit journal is rolled into log files in the audit bucket.",
    ),
    Setting(
        "audit_digest_every",
        _positive_int,
        12,
        "Write an audit digest once this many log files await one.",
    ),
    Setting(
        "audit_digest_seconds",
        _positive_int,
        3600,
        "Write an audit digest at least this often while log files await one.",
    ),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The settings shoal runs with; build it with ``load_config``."""

    data_dir: str = "shoal-data"
    catalog_url: str | None = None
    storage_endpoint_url: str | None = None
    storage_access_key_id: str | None = None
    storage_secret_access_key: str | None = None
    region: str = "us-east-1"
    engine_threads: int = 2
    engine_memory_limit: str = "4GB"
    engine_direct_reads: bool = True
    spark_connect_url: str | None = None
    spark_auto_min_bytes: int | None = None
    host: str = "127.0.0.1"
    port: int = 8066
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = None
    account_id: str = "123456789012"
    body_timeout_seconds: int = 30
    body_bytes_in_flight: int = 256 * 1024 * 1024
    audit_bucket: str = "shoal-audit"
    audit_roll_seconds: int = 300
    audit_digest_every: int = 12
    audit_digest_seconds: int = 3600

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def lake_path(self) -> Path:
        """Root of local storage: one sub-folder per bucket."""
        return self.data_path / "lake"

    @property
    def resolved_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.data_path / 'catalog.db'}"

    def describe(self) -> dict[str, Any]:
        """Every setting with its value, secrets masked: safe to print or serve."""
        shown: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            shown[field.name] = MASK if _BY_NAME[field.name].secret and value else value
        return shown

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.describe().items())
        return f"Config({inner})"


def load_config(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the frozen Config from defaults, a TOML file, the environment and overrides.

    ``overrides`` with a value of None are ignored, so CLI flags that were not given
    do not hide the environment.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        values.update(_read_file(Path(path)))
    for setting in SETTINGS:
        raw = env.get(ENV_PREFIX + setting.name.upper())
        if raw is not None:
            values[setting.name] = _parse(setting, raw, f"${ENV_PREFIX}{setting.name.upper()}")
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting {name!r}")
        setting = _BY_NAME[name]
        values[name] = _parse(setting, str(value), f"--{name.replace('_', '-')}")
    return Config(**values)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("shoal", data)
    result: dict[str, Any] = {}
    for name, value in section.items():
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting {name!r} in {path}")
        result[name] = _parse(_BY_NAME[name], str(value), f"{path}: {name}")
    return result


def _parse(setting: Setting, raw: str, where: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"invalid value for {where}: {exc}") from None
