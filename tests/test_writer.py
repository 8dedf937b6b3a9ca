"""The archive writer process: a dead writer is reported once, and calls fail in one line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive.config import Config
from archive.crawl import spawn
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


def test_a_writer_started_ahead_serves_the_first_client_and_one_not_taken_ends(tmp_path: Path):
    with spawn.ahead():
        (ahead, _), *others = spawn._spare
        client = WriterClient(Config(data_dir=tmp_path), "src")
        assert client.process is ahead and not others and not spawn._spare
        run_id, resumed = client.start_run("src", "vendor")
        assert client.close() == [] and client.closed
    assert (run_id, resumed) == (1, None)
    with spawn.ahead():
        (unused, _), *others = spawn._spare
    assert not others and not spawn._spare and not unused.is_alive()
