"""Writer processes, started before the crawler needs one so that their start-up overlaps its own.

A writer process spends its first moments importing (SQLite, warcio, text
extraction). Started when a spider opens, that time was on the crawl's
critical path: the spider waits for its run id. `ahead()` starts one as a
command begins, before the crawler imports Scrapy and Twisted, so the two
start-ups run on both cores; the first `start()` then takes it. This module
imports only multiprocessing, so starting ahead costs the crawler nothing.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a running reactor
# At most one writer started ahead and not yet taken: (process, the crawler's end of its pipe).
_spare: list[tuple[Any, Any]] = []


def _spawn() -> tuple[Any, Any]:
    conn, child = _CONTEXT.Pipe(duplex=True)
    process = _CONTEXT.Process(target=_wait_then_serve, args=(child,), daemon=True, name="spyglass-writer")
    process.start()
    child.close()
    return process, conn


@contextmanager
def ahead() -> Iterator[None]:
    """Start a writer process now for the block's first `start()`; one not taken ends with the block."""
    if not _spare:
        _spare.append(_spawn())
    try:
        yield
    finally:
        while _spare:
            process, conn = _spare.pop()
            # Given no work, it holds nothing: no need to wait for its imports to end.
            process.terminate()
            process.join(5)
            conn.close()


def start(config: Any, prefix: str, target: Any = None) -> tuple[Any, Any]:
    """A writer process (the one started ahead if any) given its work: (process, the pipe to it)."""
    process, conn = _spare.pop() if _spare else _spawn()
    # The pipe holds this message until the process has loaded its modules and reads it;
    # a process that died meanwhile is seen by the client as any writer that stops.
    try:
        conn.send((config, prefix, target))
    except (OSError, ValueError):
        pass
    return process, conn


def _wait_then_serve(conn: Any) -> None:
    """The writer process's entry point: load its modules, then serve the work it is given."""
    # Ctrl-C reaches every process of the group; the crawler alone decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from archive.crawl import writer

    try:
        config, prefix, target = conn.recv()
    except EOFError:
        return  # started ahead, never needed
    writer.serve(conn, config, prefix, target)
