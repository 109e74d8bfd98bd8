"""Fixtures every test shares."""

from __future__ import annotations

import pytest

from shoal.config import ENV_PREFIX, SETTINGS


@pytest.fixture(autouse=True)
def _isolate_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own SHOAL_* settings or config file."""
    monkeypatch.delenv(f"{ENV_PREFIX}CONFIG", raising=False)
    for setting in SETTINGS:
        monkeypatch.delenv(ENV_PREFIX + setting.name.upper(), raising=False)
