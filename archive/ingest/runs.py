"""Opening a crawl run: its source recorded, an unfinished earlier run reconciled and perhaps continued."""

from __future__ import annotations

from archive.archive import Archive
from archive.index.db import writing
from archive.index.runs import resumable_run, start_run, upsert_source
from archive.ingest.reconcile import reconcile_run
from archive.ingest.sink import IndexSink
from archive.sources.model import Source, source_to_dict
from archive.times import parse_when, utc_now


def open_run(
    sink: IndexSink,
    archive: Archive,
    name: str,
    spider: str,
    source: Source | None,
    pid: int | None,
    resume_within: float,
) -> tuple[int, int | None]:
    """Record the source and open a crawl run; an unfinished earlier run of the same source and
    spider is reconciled first, and continued if it started within `resume_within` seconds.
    Returns (run id, id of the run it resumes or None)."""
    index = sink.index
    with writing(index):
        if source is not None:
            upsert_source(index, source)
            sink.history.watch(source.name, source_to_dict(source))
    previous = resumable_run(index, name, spider)
    resumed = None
    if previous is not None:
        reconcile_run(archive, index, previous, source, sink.history)
        age = (utc_now() - parse_when(previous["started_at"])).total_seconds()
        if age < resume_within:
            resumed = previous["id"]
    with writing(index):
        run_id = start_run(index, name, spider, pid=pid, resumed_from=resumed)
    return run_id, resumed
