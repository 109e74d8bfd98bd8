from __future__ import annotations

from pathlib import Path

import pytest

from shoal.config import MASK, load_config
from shoal.errors import ConfigError


def test_defaults() -> None:
    config = load_config(env={})
    assert config.data_dir == "shoal-data"
    assert config.resolved_catalog_url == f"sqlite:///{Path('shoal-data').resolve()}/catalog.db"
    assert config.engine_threads == 2


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    config_file = tmp_path / "shoal.toml"
    config_file.write_text('[shoal]\ndata_dir = "from-file"\nregion = "eu-west-1"\n')
    env = {"SHOAL_REGION": "ap-south-1", "SHOAL_ENGINE_THREADS": "3"}
    config = load_config(config_file, env=env, overrides={"engine_threads": 1, "data_dir": None})
    assert config.data_dir == "from-file"  # file beats default; a None flag hides nothing
    assert config.region == "ap-south-1"  # environment beats file
    assert config.engine_threads == 1  # flag beats environment


def test_secrets_are_masked() -> None:
    config = load_config(env={"SHOAL_STORAGE_SECRET_ACCESS_KEY": "s3cr3t-value"})
    assert config.storage_secret_access_key == "s3cr3t-value"
    assert config.describe()["storage_secret_access_key"] == MASK
    assert "s3cr3t-value" not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHOAL_ENGINE_THREADS": "zero"}, "SHOAL_ENGINE_THREADS"),
        ({"SHOAL_ENGINE_THREADS": "-1"}, "positive"),
        ({"SHOAL_ENGINE_DIRECT_READS": "maybe"}, "true or false"),
    ],
)
def test_bad_environment_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env=env)


@pytest.mark.parametrize(("text", "value"), [("false", False), ("Off", False), ("1", True)])
def test_boolean_settings(text: str, value: bool, tmp_path: Path) -> None:
    assert load_config(env={"SHOAL_ENGINE_DIRECT_READS": text}).engine_direct_reads is value
    toml = tmp_path / "shoal.toml"
    toml.write_text(f"engine_direct_reads = {str(value).lower()}\n")
    assert load_config(toml, env={}).engine_direct_reads is value


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("data_dir = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_config(unknown, env={})
