"""One typed Config: environment, then -s, then options; bad values refused in one line; all documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archive.archive import Archive
from archive.config import Config
from archive.crawl.runner import crawl_settings
from archive.errors import ArchiveError, ConfigError
from archive.index.db import open_existing, open_index
from archive.wayback.client import Endpoints

from .conftest import ROOT, run_cli


def test_environment_then_overrides_then_options():
    environ = {
        "SPYGLASS_DATA_DIR": "/env/data",
        "SPYGLASS_MAX_DEPTH": "5",
        "SPYGLASS_WARC_DEDUPE": "false",
        "USER_AGENT": "Env/1.0",
        "UNRELATED": "x",
    }
    config = Config.load(
        environ,
        {"SPYGLASS_MAX_DEPTH": "7", "DOWNLOAD_TIMEOUT": "3"},
        data_dir=Path("/option/data"),
        sources_file=None,
    )
    assert config.data_dir == Path("/option/data")  # the command's own option wins
    assert config.max_depth == 7  # -s beats the environment
    assert config.warc_dedupe is False and config.user_agent == "Env/1.0"
    assert config.sources_file == Path("sources.yml")  # an option left out keeps the default
    assert Config.load({}) == Config()


def test_credentials_come_from_the_environment_only():
    config = Config.load({"SPYGLASS_SPN_ACCESS_KEY": "a", "SPYGLASS_SPN_SECRET_KEY": "s"})
    assert (config.spn_access_key, config.spn_secret_key) == ("a", "s")
    assert "SPYGLASS_SPN_ACCESS_KEY" not in config.as_settings()
    assert "spn_secret_key" not in repr(config) and "'s'" not in repr(config)


@pytest.mark.parametrize(
    "pairs,message",
    [
        ({"SPYGLASS_MAX_DEPTH": "deep"}, "setting SPYGLASS_MAX_DEPTH: must be an integer, got 'deep'"),
        (
            {"SPYGLASS_WARC_DEDUPE": "perhaps"},
            "setting SPYGLASS_WARC_DEDUPE: must be true or false, got 'perhaps'",
        ),
        ({"SPYGLASS_WAYBACK_WINDOW": "a minute"}, "setting SPYGLASS_WAYBACK_WINDOW: must be a number"),
        ({"SPYGLASS_MAX_DEPHT": "3"}, "-s SPYGLASS_MAX_DEPHT: no such setting"),
    ],
)
def test_bad_settings_are_one_line_errors(pairs, message):
    with pytest.raises(ConfigError) as info:
        Config.load({}, pairs)
    assert str(info.value).startswith(message)


def test_scrapy_components_see_the_same_config():
    config = Config.load(
        {}, {"SPYGLASS_MAX_PAGES": "12", "SPYGLASS_WAYBACK_URL": "http://127.0.0.1:9"}, data_dir=Path("/x")
    )
    settings = crawl_settings(config, {"DOWNLOAD_TIMEOUT": "3"})
    assert settings.getint("DOWNLOAD_TIMEOUT") == 3 and settings.getbool("ROBOTSTXT_OBEY")
    assert Config.from_settings(settings) == config.__class__(
        **{**config.__dict__, "spn_access_key": "", "spn_secret_key": ""}
    )
    assert Config.from_settings({}) == Config()
    assert Endpoints.from_config(config).cdx == "http://127.0.0.1:9/cdx/search/cdx"


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `([A-Z_0-9]+)`", readme, re.M)) | set(
        re.findall(r"^\| `[A-Z_0-9]+` / `([A-Z_0-9]+)`", readme, re.M)
    )
    missing = sorted(set(Config.setting_names()) - table)
    assert missing == [], f"settings not in the README's table: {missing}"


def test_archive_names_its_paths_and_refuses_a_missing_index(tmp_path: Path):
    archive = Archive(tmp_path / "d")
    assert (archive.db_path.name, archive.warc_dir.name, archive.chain_dir.name) == (
        "spyglass.db",
        "warcs",
        "chain",
    )
    with pytest.raises(ArchiveError, match="no archive here"):
        open_existing(archive)
    open_index(archive).close()
    assert archive.exists()


def test_a_bad_setting_fails_the_command_in_one_line(tmp_path: Path):
    result = run_cli(
        "crawl",
        "--sources",
        str(ROOT / "sources.example.yml"),
        "--data",
        str(tmp_path),
        "-s",
        "SPYGLASS_MAX_DEPTH=deep",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: setting SPYGLASS_MAX_DEPTH: must be an integer, got 'deep'"
