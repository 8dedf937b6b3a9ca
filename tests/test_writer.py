"""The archive writer process: a dead writer is reported once, and calls fail in one line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive.config import Config
from archive.crawl.client import WriterClient
from archive.errors import ArchiveError


def test_a_writer_that_dies_is_reported_once_and_calls_fail_clearly(tmp_path: Path):
    (tmp_path / "warcs").write_text("a file where the WARC directory should be")
    died = threading.Event()
    reasons: list[str] = []

    def on_failure(reason: str) -> None:
        reasons.append(reason)
        died.set()

    client = WriterClient(Config(data_dir=tmp_path), "src", on_failure=on_failure)
    assert died.wait(60), "the writer's death was not reported"
    with pytest.raises(ArchiveError, match="the archive writer process stopped"):
        client.start_run("src", "vendor")
    client.close()
    assert reasons == ["the archive writer process stopped"]
