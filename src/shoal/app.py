"""``Shoal``: the one application object. It wires configuration, the catalog
database, storage and services; ``shoal.open(...)`` builds it."""

from __future__ import annotations

import importlib.util
import threading
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from shoal.auth.keys import IdentityStore, user_arn
from shoal.auth.store import GovernanceStore
from shoal.catalog.connection import StateDatabase
from shoal.catalog.store import CatalogStore
from shoal.config import Config, load_config
from shoal.errors import ConfigError
from shoal.queries.model import DUCKDB, SPARK, SPARK_ENGINE_VERSION
from shoal.storage.base import Storage

if TYPE_CHECKING:
    from datetime import datetime

    from shoal.audit.quotas import Quota, QuotaService, Threshold
    from shoal.audit.records import Caller
    from shoal.audit.trail import AuditTrail
    from shoal.audit.usage import UsageMeter
    from shoal.engine.base import Engine
    from shoal.queries.routing import AutoRouting
    from shoal.queries.service import FinishedListener, QueryService


def _open_storage(config: Config) -> Storage:
    if config.storage_endpoint_url:
        from shoal.storage.s3 import S3Storage

        return S3Storage(
            endpoint_url=config.storage_endpoint_url,
            access_key_id=config.storage_access_key_id,
            secret_access_key=config.storage_secret_access_key,
            region=config.region,
        )
    from shoal.storage.local import LocalStorage

    config.lake_path.mkdir(parents=True, exist_ok=True)
    return LocalStorage(config.lake_path)


class Shoal:
    """Everything one shoal instance needs, built once from a frozen ``Config``.

    Use it as a context manager, or call ``close()`` when done.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        config.data_path.mkdir(parents=True, exist_ok=True)
        self.storage = _open_storage(config)
        self.state = StateDatabase(config.resolved_catalog_url)
        self.catalog = CatalogStore(self.state)
        # Users and access keys (auth/): who may sign API requests.
        self.identities = IdentityStore(self.state, config.data_path, config.account_id)
        self.governance = GovernanceStore(self.state)  # groups, roles, policies, mappings
        # Called with each finished execution (quota checks, the audit record).
        self.query_listeners: list[FinishedListener] = []
        self._engines_lock = threading.Lock()  # query workers build Spark's session once

    # Built on first use, so commands that run no SQL skip starting DuckDB and the
    # query workers (the query service recovers orphaned executions when it starts).
    @cached_property
    def engine(self) -> Engine:
        """The engine queries run on: the embedded DuckDB, which spills to DATA/tmp
        when a query outgrows memory."""
        from shoal.engine.duckdb import DuckDBEngine

        roots = [] if self.config.storage_endpoint_url else [str(self.config.lake_path)]
        return DuckDBEngine(
            roots,
            temp_directory=str(self.config.data_path / "tmp"),
            memory_limit=self.config.engine_memory_limit,
            threads=self.config.engine_threads,
            storage=self.storage,  # tables on S3-compatible storage are read through it
            direct_reads=self.config.engine_direct_reads,
        )

    @cached_property
    def spark_engine(self) -> Engine:
        """Apache Spark through Spark Connect (``spark_connect_url``), for workgroups
        pinned to it; built when one of their queries first needs it.

        Raises:
            ConfigError: no Spark Connect URL is configured, or pyspark is missing.
        """
        url = self.config.spark_connect_url
        if not url:
            raise ConfigError(
                "this workgroup runs its queries on Spark (EngineVersion "
                f"{SPARK_ENGINE_VERSION!r}), but no Spark Connect URL is configured: "
                "set spark_connect_url (SHOAL_SPARK_CONNECT_URL=sc://host:port)"
            )
        if importlib.util.find_spec("pyspark") is None:  # the optional extra
            raise ConfigError(
                "this workgroup runs its queries on Spark, but pyspark is not installed: "
                "pip install 'shoal[spark]'"
            )
        from shoal.engine.spark import SparkEngine

        # Given the lake's storage, Spark writes CTAS/INSERT/UNLOAD files itself.
        return SparkEngine(url, self._spark_settings(), storage=self.storage)

    def _spark_settings(self) -> dict[str, str]:
        """S3A options so Spark reads the lake from the same S3 endpoint as shoal."""
        config = self.config
        if not config.storage_endpoint_url:
            return {}
        from shoal.engine.spark import s3a_settings

        return s3a_settings(
            config.storage_endpoint_url,
            config.storage_access_key_id,
            config.storage_secret_access_key,
            config.region,
        )

    def engine_for(self, name: str) -> Engine:
        """The engine called ``name`` ("duckdb" or "spark"), built on first use."""
        if name == SPARK:
            with self._engines_lock:
                return self.spark_engine
        if name == DUCKDB:
            return self.engine
        raise ConfigError(f"unknown engine {name!r}: use {DUCKDB} or {SPARK}")  # not AUTO

    @property
    def auto_routing(self) -> AutoRouting | None:
        """Which queries of AUTO workgroups run on Spark: those estimated at
        ``spark_auto_min_bytes`` or more, when Spark is configured; None: none."""
        from shoal.queries.routing import AutoRouting

        config = self.config
        if not config.spark_connect_url or config.spark_auto_min_bytes is None:
            return None
        return AutoRouting(SPARK, config.spark_auto_min_bytes)

    @cached_property
    def queries(self) -> QueryService:
        """Query executions, workgroups, named queries and prepared statements."""
        from shoal.audit.usage import audit_recorder
        from shoal.queries.runner import StatementRunner
        from shoal.queries.service import QueryService

        runner = StatementRunner(
            self.catalog, self.storage, self.engine, self.engine_for, self.auto_routing
        )
        self.query_listeners.append(self.quotas.after_query)
        # Each finished query is one record, whoever ran it (API, CLI, Python API).
        config = self.config
        self.query_listeners.append(audit_recorder(self.audit, config.account_id, config.region))
        return QueryService(
            self.state,
            self.catalog,
            self.storage,
            runner,
            account_id=self.config.account_id,
            region=self.config.region,
            admission=self.quotas.admit,
            on_finished=self.query_listeners,
        )

    @property
    def queries_if_started(self) -> QueryService | None:
        """The query service if something has used it already; never starts one."""
        service: QueryService | None = self.__dict__.get("queries")  # cached_property's slot
        return service

    # --- the audit trail, usage metering and quotas (audit/) ---

    @cached_property
    def audit(self) -> AuditTrail:
        """The audit trail every request is recorded in, whichever door it came by
        (the API server, the CLI, the Python API). Records are journaled at once;
        the server (``start``) or ``shoal audit flush`` rolls them into the lake."""
        from shoal.audit.trail import AuditTrail, TrailLayout

        config = self.config
        return AuditTrail(
            self.storage,
            self.catalog,
            config.data_path,
            TrailLayout(config.audit_bucket, config.account_id, config.region),
            digest_every=config.audit_digest_every,
            digest_seconds=config.audit_digest_seconds,
            roll_seconds=config.audit_roll_seconds,
            callers=self._caller,
        )

    def _caller(self, access_key_id: str) -> Caller | None:
        """Who signs with ``access_key_id`` (for records reconciled after a crash)."""
        from shoal.audit.records import Caller

        found = self.identities.signing_identity(access_key_id)
        if found is None:
            return None
        account = self.config.account_id
        return Caller(found.user_name, access_key_id, user_arn(account, found.user_name), account)

    @cached_property
    def usage(self) -> UsageMeter:
        """Queries run, bytes scanned and engine time per user, group, workgroup, database."""
        from shoal.audit.usage import UsageMeter

        return UsageMeter(self.state, self.governance.groups_for_user)

    @cached_property
    def quotas(self) -> QuotaService:
        """Quotas on bytes scanned: definitions, admission, threshold notifications."""
        from shoal.audit.quotas import QuotaService

        return QuotaService(self.state, on_crossing=self._record_crossing)

    def _record_crossing(
        self, quota: Quota, threshold: Threshold, used: int, moment: datetime
    ) -> None:
        """A quota threshold crossed, in the audit trail (once: see ``QuotaService``)."""
        import uuid

        from shoal.audit.quotas import crossing_record

        config = self.config
        record = crossing_record(
            quota, threshold, used, moment, config.account_id, config.region, str(uuid.uuid4())
        )
        self.audit.append(record)

    def close(self) -> None:
        """Stop the services that were started; sync the audit journal."""
        if "queries" in self.__dict__:
            self.queries.close()
        if "engine" in self.__dict__:
            self.engine.close()
        if "spark_engine" in self.__dict__:
            self.spark_engine.close()
        if "audit" in self.__dict__:
            self.audit.close()
        self.state.close()

    def __enter__(self) -> Shoal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open(config: Config | None = None, **overrides: object) -> Shoal:  # noqa: A001
    """Open shoal with ``config``, or with settings loaded from the usual sources.

    ``overrides`` are setting names (``data_dir=…``) that win over file and environment.
    """
    if config is None:
        config = load_config(overrides=overrides)
    return Shoal(config)
