"""The passes after a crawl for `render: browser`: loading its pages in Chromium, and noticing the
pages of other sources that look script-rendered (archive/browser/ does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.archive import Archive
from archive.crawl.runner import report_of
from archive.index.db import open_index, writing

if TYPE_CHECKING:
    from archive.crawl.after import After


def render_in_browser(after: After) -> None:
    """A browser pass (a run of its own) of each live run of sources with `render: browser`."""
    if after.config.redis_url:
        return  # the workers rendered them, before their live runs finished (archive/cluster/render.py)
    rendering = [(source, run_id) for source, run_id in after.live if source.render == "browser"]
    if not rendering:
        return
    from archive.browser.run import pages_seen, render_run
    from archive.crawl.screenshots import Browser, load_shot_row

    archive = Archive.from_config(after.config)
    for source, run_id in rendering:
        index = open_index(archive)
        try:
            pages = [page for page in pages_seen(index, run_id) if source.renders(page["url"])]
        finally:
            index.close()
        if not pages:
            continue
        run = render_run(
            after.config,
            source,
            pages,
            lambda source=source: Browser(after.config, source),
            lambda *args, source=source: load_shot_row(source, *args),
        )
        index = open_index(archive)
        try:
            after.result.runs.append(report_of(index, f"{source.name} (browser)", run))
        finally:
            index.close()


def notice_script_shells(after: After) -> None:
    """A note naming the pages that look script-rendered in live runs of sources without `render: browser`,
    and their count on the run, for `spyglass status` and the source_status view to show per source."""
    from archive.browser.notice import script_shells

    archive = Archive.from_config(after.config)
    index = open_index(archive)
    try:
        for source, run_id in after.live:
            if source.render == "browser":
                continue
            shells = script_shells(archive, index, run_id)
            with writing(index):
                index.table("crawl_runs").update(run_id, {"script_shells": len(shells)})
            if shells:
                after.result.notes.append(
                    f"{source.name}: {len(shells)} page(s) look script-rendered (scripts, almost no text), "
                    f"e.g. {shells[0]}; consider `render: browser`"
                )
    finally:
        index.close()
