"""The browser pass of one source: its pages loaded in Chromium, recorded, indexed through the one ingest path.

A run of its own (spider `browser`), opened like a crawl run (an unfinished
earlier one is reconciled first: a SIGKILL'd pass loses nothing it wrote, and
a run resuming it loads only the pages it had not rendered), its
records in the source's WARC files and its rows committed page by page through
IndexSink (by a thread of their own while the next page loads), so the hash
chain, history and `spyglass verify` see them as they see the crawler's. One
Chromium at a time, restarted after SPYGLASS_BROWSER_RESTART_AFTER pages or
when it crashed; a fresh context per page. A page that times out or crashes
the browser is a fetch error and the pass goes on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from archive.archive import Archive
from archive.browser.load import BrowserLike, Load, Settling, load_page
from archive.browser.record import error_row, record_load
from archive.config import Config
from archive.index.db import writing
from archive.index.kinds import ErrorType
from archive.index.queries import rows
from archive.index.runs import finish_run, run_chain
from archive.ingest.batch import Batch
from archive.ingest.runs import open_run
from archive.ingest.sink import IndexSink
from archive.sources.model import Source
from archive.times import utc_now
from archive.warc.write import WarcStore

SPIDER = "browser"


class StartedBrowser(BrowserLike, Protocol):
    """A browser as the pass starts it: whether it started (and why not), and whether it still runs."""

    ready: bool
    problem: str | None
    connected: bool


# (index, store, browser, run id, rendered capture {id, url, warc_record_id}, load) -> keeps its screenshot
KeepShot = Callable[[Any, WarcStore, Any, int, dict[str, Any], Load], None]


def pages_seen(index: Any, run_id: int) -> list[dict[str, Any]]:
    """The HTML pages live crawl run `run_id` saw ({url}), in order, with those of the runs it resumed
    (a page archived before a crash is not fetched again, but is loaded in the browser all the same):
    captured (status 200, revisits too) or answered 304, since a script-rendered page's shell rarely
    changes when its claims do."""
    chain = run_chain(index, run_id)
    runs = ", ".join("?" * len(chain))
    return rows(
        index.conn,
        "SELECT url FROM (SELECT url, min(id) AS first FROM ("
        f"  SELECT id, url FROM captures WHERE crawl_run IN ({runs}) AND via = 'live' AND status = 200"
        "  AND requisite IS NULL AND lower(content_type) LIKE '%html%'"
        "  UNION ALL SELECT o.capture_id, o.url FROM observations AS o"
        f"  JOIN captures AS c ON c.id = o.capture_id WHERE o.crawl_run IN ({runs}) AND o.status = 304"
        "  AND c.requisite IS NULL AND lower(c.content_type) LIKE '%html%'"
        ") GROUP BY url) ORDER BY first",
        [*chain, *chain],
    )


def rendered_before(index: Any, run_id: int) -> set[str]:
    """The pages the browser runs that browser run `run_id` resumes rendered: not loaded again, as a
    resumed crawl fetches no page it archived before the crash."""
    earlier = run_chain(index, run_id)[1:]
    if not earlier:
        return set()
    found = rows(
        index.conn,
        f"SELECT DISTINCT url FROM captures WHERE crawl_run IN ({', '.join('?' * len(earlier))}) "
        "AND via = 'browser' AND requisite IS NULL",
        earlier,
    )
    return {row["url"] for row in found}


def render_run(
    config: Config,
    source: Source,
    pages: list[dict[str, Any]],
    open_browser: Callable[[], AbstractAsyncContextManager[StartedBrowser]],
    keep_shot: KeepShot,
) -> int:
    """Load each of `pages` ({url}) in the browser and index what it received and rendered; the run's id.

    One thread owns the index and the WARC files (SQLite connections stay in the thread that opened
    them) and writes page N while the event loop has Chromium load page N+1: the writing is the
    pass's own Python work, not Chromium's, so it need not hold the next load back. At most one
    page waits to be written, so memory stays bounded and a SIGKILL loses no more than before.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="browser-writer") as thread:
        writer = thread.submit(_Writer, config, source, keep_shot).result()
        pages = [page for page in pages if page["url"] not in writer.done]

        def keep(load: Load, browser: Any) -> Future[None]:
            return thread.submit(writer.keep, load, browser)

        def lost(url: str, why: str) -> Future[None]:
            return thread.submit(writer.lost, url, why)

        status, reason = "finished", "finished"
        try:
            problem = asyncio.run(_load_all(pages, Settling.from_config(config), open_browser, keep, lost))
            if problem:
                status, reason = "failed", problem
        except BaseException:
            status, reason = "interrupted", "stopped while loading pages in the browser"
            raise
        finally:
            thread.submit(writer.close, status, reason).result()
    return writer.run_id


class _Writer:
    """The pass's run, its WARC files and its rows, used from the one thread that opened them."""

    def __init__(self, config: Config, source: Source, keep_shot: KeepShot) -> None:
        archive = Archive.from_config(config)
        self.source = source
        self.keep_shot = keep_shot
        self.sink = IndexSink(config)
        self.run_id, _ = open_run(
            self.sink, archive, source.name, SPIDER, source, os.getpid(), config.resume_within
        )
        self.done = rendered_before(self.sink.index, self.run_id)
        self.store = WarcStore(
            archive.warc_dir,
            source.name,
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            originals=self.sink.originals(source.name),
            on_open=lambda filename: self.sink.file_opened(filename, self.run_id),
        )
        self.counts = {"pages": 0, "captures": 0, "revisits": 0, "requisites": 0, "errors": 0, "bytes": 0}

    def keep(self, load: Load, browser: Any) -> None:
        """Write what one load received and rendered, commit its rows, then its screenshot."""
        recorded = record_load(self.store, load, self.source, self.run_id, browser.name)
        self.sink.commit(Batch(captures=recorded.captures, errors=recorded.errors))
        for row in recorded.captures:
            self.counts["bytes"] += row["length"] or 0
            self.counts["requisites" if row["requisite"] else "pages"] += 1
        self.counts["captures"] += recorded.rendered is not None
        self.counts["errors"] += len(recorded.errors)
        if recorded.rendered is not None and load.png is not None:
            [page] = rows(
                self.sink.index.conn,
                "SELECT id, url, warc_record_id FROM captures WHERE warc_record_id = ?",
                [recorded.rendered.record_id],
            )
            self.keep_shot(self.sink.index, self.store, browser, self.run_id, page, load)

    def lost(self, url: str, why: str) -> None:
        """A page the browser never loaded (it did not start): a fetch error."""
        load = Load(url, utc_now(), status="failed", error=why)
        error = error_row(self.source, self.run_id, load, url, ErrorType.BROWSER_FAILED, why)
        self.sink.commit(Batch(errors=[error]))
        self.counts["errors"] += 1

    def close(self, status: str, reason: str) -> None:
        """Settle history, close the WARC files and the run."""
        with writing(self.sink.index):
            self.sink.history.settle()
        self.store.close()
        with writing(self.sink.index):
            finish_run(
                self.sink.index,
                self.run_id,
                status=status,
                reason=reason,
                counts=self.counts,
                warc_files=list(self.store.files),
            )
        self.sink.close()


async def _load_all(
    pages: list[dict[str, Any]],
    settling: Settling,
    open_browser: Callable[[], AbstractAsyncContextManager[StartedBrowser]],
    keep: Callable[[Load, Any], Future[None]],
    lost: Callable[[str, str], Future[None]],
) -> str | None:
    """Each page in turn, a new browser every `restart_after` pages or after a crash; why none started.

    A load is handed to `keep` once the one before it is written (its error, if any, raised here).
    """
    done = 0
    writing_one: Future[None] | None = None
    try:
        while done < len(pages):
            async with open_browser() as browser:
                if not browser.ready:
                    for page in pages[done:]:
                        await asyncio.wrap_future(
                            lost(page["url"], browser.problem or "the browser did not start")
                        )
                    return browser.problem
                for page in pages[done : done + settling.restart_after]:
                    load = await load_page(browser, page["url"], settling)
                    done += 1
                    if writing_one is not None:
                        await asyncio.wrap_future(writing_one)
                    writing_one = keep(load, browser)
                    if not browser.connected:
                        break  # it crashed (or was killed): the next page gets a new one
    finally:
        if writing_one is not None:
            await asyncio.wrap_future(writing_one)
    return None
