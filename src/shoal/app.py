"""``Shoal``: the one application object. It wires configuration, the catalog
database, storage and services; ``shoal.open(...)`` builds it."""

from __future__ import annotations

from types import TracebackType

from shoal.catalog.connection import StateDatabase
from shoal.catalog.store import CatalogStore
from shoal.config import Config, load_config
from shoal.storage.base import Storage


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

    def close(self) -> None:
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
