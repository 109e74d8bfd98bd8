"""Every table of the state database, for migrations and the schema-drift test.

Each service declares its tables in its own ``schema`` module on the catalog's
shared ``metadata``; importing them here registers them all.
"""

from __future__ import annotations

import importlib

SERVICE_SCHEMAS = (
    "shoal.catalog.schema",
    "shoal.queries.schema",
    "shoal.auth.schema",
    "shoal.audit.schema",
)


def register_all_tables() -> None:
    """Import every service's schema module so ``metadata`` knows all tables."""
    for module in SERVICE_SCHEMAS:
        importlib.import_module(module)
