"""The browser pass of one source: its pages loaded in Chromium, recorded, indexed through the one ingest path.

A run of its own (spider `browser`), opened like a crawl run (an unfinished
earlier one is reconciled first: a SIGKILL'd pass loses nothing it wrote, and
a run resuming it loads only the pages it had not rendered), its
records in the source's WARC files and its rows committed page by page through
IndexSink, so the hash chain, history and `spyglass verify` see them as they
see the crawler's. One Chromium at a time, restarted after
SPYGLASS_BROWSER_RESTART_AFTER pages or when it crashed; a fresh context per
page. A page that times out or crashes the browser is a fetch error and the
pass goes on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
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
    """Load each of `pages` ({url}) in the browser and index what it received and rendered; the run's id."""
    archive = Archive.from_config(config)
    sink = IndexSink(config)
    run_id, _ = open_run(sink, archive, source.name, SPIDER, source, os.getpid(), config.resume_within)
    done = rendered_before(sink.index, run_id)
    pages = [page for page in pages if page["url"] not in done]
    store = WarcStore(
        archive.warc_dir,
        source.name,
        max_size=config.warc_max_size,
        gzip_level=config.warc_gzip_level,
        originals=sink.originals(source.name),
        on_open=lambda filename: sink.file_opened(filename, run_id),
    )
    counts = {"pages": 0, "captures": 0, "revisits": 0, "requisites": 0, "errors": 0, "bytes": 0}
    status, reason = "finished", "finished"

    def keep(load: Load, browser: Any) -> None:
        recorded = record_load(store, load, source, run_id, browser.name)
        sink.commit(Batch(captures=recorded.captures, errors=recorded.errors))
        for row in recorded.captures:
            counts["bytes"] += row["length"] or 0
            counts["requisites" if row["requisite"] else "pages"] += 1
        counts["captures"] += recorded.rendered is not None
        counts["errors"] += len(recorded.errors)
        if recorded.rendered is not None and load.png is not None:
            [page] = rows(
                sink.index.conn,
                "SELECT id, url, warc_record_id FROM captures WHERE warc_record_id = ?",
                [recorded.rendered.record_id],
            )
            keep_shot(sink.index, store, browser, run_id, page, load)

    def lost(url: str, why: str) -> None:
        load = Load(url, utc_now(), status="failed", error=why)
        sink.commit(Batch(errors=[error_row(source, run_id, load, url, ErrorType.BROWSER_FAILED, why)]))
        counts["errors"] += 1

    try:
        problem = asyncio.run(_load_all(pages, Settling.from_config(config), open_browser, keep, lost))
        if problem:
            status, reason = "failed", problem
    except BaseException:
        status, reason = "interrupted", "stopped while loading pages in the browser"
        raise
    finally:
        with writing(sink.index):
            sink.history.settle()
        store.close()
        with writing(sink.index):
            finish_run(
                sink.index, run_id, status=status, reason=reason, counts=counts, warc_files=list(store.files)
            )
        sink.close()
    return run_id


async def _load_all(
    pages: list[dict[str, Any]],
    settling: Settling,
    open_browser: Callable[[], AbstractAsyncContextManager[StartedBrowser]],
    keep: Callable[[Load, Any], None],
    lost: Callable[[str, str], None],
) -> str | None:
    """Each page in turn, a new browser every `restart_after` pages or after a crash; why none started."""
    done = 0
    while done < len(pages):
        async with open_browser() as browser:
            if not browser.ready:
                for page in pages[done:]:
                    lost(page["url"], browser.problem or "the browser did not start")
                return browser.problem
            for page in pages[done : done + settling.restart_after]:
                load = await load_page(browser, page["url"], settling)
                done += 1
                keep(load, browser)
                if not browser.connected:
                    break  # it crashed (or was killed): the next page gets a new one
    return None
