"""The archive writer process: a dead writer is reported once, and calls fail in one line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive.errors import ArchiveError
from archive.writer import WriterClient, WriterConfig


def test_a_writer_that_dies_is_reported_once_and_calls_fail_clearly(tmp_path: Path):
    (tmp_path / "warcs").write_text("a file where the WARC directory should be")
    died = threading.Event()
    reasons: list[str] = []

    def on_failure(reason: str) -> None:
        reasons.append(reason)
        died.set()

    client = WriterClient(WriterConfig(str(tmp_path), "src", 10**9, 6), on_failure=on_failure)
    assert died.wait(60), "the writer's death was not reported"
    with pytest.raises(ArchiveError, match="the archive writer process stopped"):
        client.call("start_run", "src", "vendor")
    client.close()
    assert reasons == ["the archive writer process stopped"]
