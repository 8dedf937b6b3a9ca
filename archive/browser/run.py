"""The browser pass of one source: its pages loaded in Chromium, recorded, indexed through the one ingest path.

A run of its own (spider `browser`), opened like a crawl run (an unfinished
earlier one is reconciled first: a SIGKILL'd pass loses nothing it wrote, and
a run resuming it loads only the pages it had not rendered), its records in
the source's WARC files and its rows committed page by page through IndexSink
(by a thread of their own while the next page loads), so the hash chain,
history and `spyglass verify` see them as they see the crawler's. One Chromium
at a time, restarted after SPYGLASS_BROWSER_RESTART_AFTER pages or when it
crashed; a fresh context per page. A page that times out or crashes the
browser is a fetch error and the pass goes on.
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


# (store, browser name, run id, rendered page {url, warc_record_id}, load) -> its screenshots row,
# the PNG written (archive/crawl/screenshots.py load_shot_row)
ShotRow = Callable[[WarcStore, str, int, dict[str, Any], Load], dict[str, Any]]
# Loads the next page or says there is none now: {url, ...} or None.
Take = Callable[[], dict[str, Any] | None]


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
    return rendered_in(index, run_chain(index, run_id)[1:])


def rendered_in(index: Any, run_ids: list[int]) -> set[str]:
    """The pages browser runs `run_ids` have a rendered capture of."""
    if not run_ids:
        return set()
    found = rows(
        index.conn,
        f"SELECT DISTINCT url FROM captures WHERE crawl_run IN ({', '.join('?' * len(run_ids))}) "
        "AND via = 'browser' AND requisite IS NULL",
        run_ids,
    )
    return {row["url"] for row in found}


def load_batch(
    store: WarcStore, source: Source, run_id: int, load: Load, browser: str, shot_row: ShotRow
) -> Batch:
    """What one load leaves, as one batch: its records written, its capture rows (the rendered page
    last), fetch errors and the screenshot of the same load."""
    recorded = record_load(store, load, source, run_id, browser)
    batch = Batch(captures=recorded.captures, errors=recorded.errors)
    if recorded.rendered is not None and load.png is not None:
        page = {"url": load.url, "warc_record_id": recorded.rendered.record_id}
        batch.screenshots.append(shot_row(store, browser, run_id, page, load))
    return batch


def lost_batch(source: Source, run_id: int, url: str, why: str) -> Batch:
    """A page the browser never loaded (it did not start): a `browser-failed` fetch error."""
    load = Load(url, utc_now(), status="failed", error=why)
    return Batch(errors=[error_row(source, run_id, load, url, ErrorType.BROWSER_FAILED, why)])


def tally(counts: dict[str, int], batch: Batch) -> None:
    """Add a load's batch to a browser run's counts: pages rendered, responses recorded, errors."""
    for row in batch.captures:
        counts["bytes"] += row["length"] or 0
        if row["requisite"]:
            counts["requisites"] += 1
        else:
            counts["pages"] += 1
            counts["captures"] += 1
    counts["errors"] += len(batch.errors)


def render_run(
    config: Config,
    source: Source,
    pages: list[dict[str, Any]],
    open_browser: Callable[[], AbstractAsyncContextManager[StartedBrowser]],
    shot_row: ShotRow,
) -> int:
    """Load each of `pages` ({url}) in the browser and index what it received and rendered; the run's id.

    One thread owns the index and the WARC files (SQLite connections stay in the thread that opened
    them) and writes page N while the event loop has Chromium load page N+1: the writing is the
    pass's own Python work, not Chromium's, so it need not hold the next load back. At most one
    page waits to be written, so memory stays bounded and a SIGKILL loses no more than before.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="browser-writer") as thread:
        writer = thread.submit(_Writer, config, source, shot_row).result()
        queue = iter([page for page in pages if page["url"] not in writer.done])

        def keep(page: dict[str, Any], load: Load, browser: Any) -> Future[None]:
            return thread.submit(writer.keep, load, browser)

        def lost(page: dict[str, Any], why: str) -> Future[None]:
            return thread.submit(writer.lost, page["url"], why)

        status, reason = "finished", "finished"
        try:
            problem = asyncio.run(
                load_pages(lambda: next(queue, None), Settling.from_config(config), open_browser, keep, lost)
            )
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

    def __init__(self, config: Config, source: Source, shot_row: ShotRow) -> None:
        archive = Archive.from_config(config)
        self.source = source
        self.shot_row = shot_row
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
        """Write what one load received and rendered and commit its rows and screenshot as one batch."""
        batch = load_batch(self.store, self.source, self.run_id, load, browser.name, self.shot_row)
        self.sink.commit(batch)
        tally(self.counts, batch)

    def lost(self, url: str, why: str) -> None:
        """A page the browser never loaded (it did not start): a fetch error."""
        batch = lost_batch(self.source, self.run_id, url, why)
        self.sink.commit(batch)
        tally(self.counts, batch)

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


async def load_pages(
    take: Take,
    settling: Settling,
    open_browser: Callable[[], AbstractAsyncContextManager[StartedBrowser]],
    keep: Callable[[dict[str, Any], Load, Any], Future[None] | None],
    lost: Callable[[dict[str, Any], str], Future[None] | None],
) -> str | None:
    """Each page `take` gives until it gives none, a new browser every `restart_after` pages or after
    a crash; why none started. The browser starts only once there is a page for it.

    `keep` and `lost` may write in a thread of their own (a Future): a load is handed to `keep`
    once the one before it is written (its error, if any, raised here).
    """
    writing_one: Future[None] | None = None
    try:
        page = take()
        while page is not None:
            async with open_browser() as browser:
                if not browser.ready:
                    while page is not None:
                        await _written(lost(page, browser.problem or "the browser did not start"))
                        page = take()
                    return browser.problem
                for _ in range(settling.restart_after):
                    load = await load_page(browser, page["url"], settling)
                    await _written(writing_one)
                    writing_one = keep(page, load, browser)
                    page = take()
                    if page is None or not browser.connected:
                        break  # none left, or it crashed (or was killed): the next page gets a new one
    finally:
        await _written(writing_one)
    return None


async def _written(future: Future[None] | None) -> None:
    if future is not None:
        await asyncio.wrap_future(future)
