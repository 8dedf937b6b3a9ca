"""Each crawl's own log file, under DATA/logs/, named in its runs' crawl_runs.log_file.

Unattended crawls print to a terminal nobody reads (or to a cron log that
mixes every run); like Scrapyd's job logs, each crawl process keeps Scrapy's
log at INFO in a file of its own, whatever the console shows, and `status`
and Datasette name it beside the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.times import utc_now

LOG_DIR = "logs"


def log_path(data_dir: Path) -> Path:
    """A new crawl's log file: DATA/logs/crawl-<UTC start>-<pid>.log."""
    return Path(data_dir) / LOG_DIR / f"crawl-{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"


@contextmanager
def crawl_log(data_dir: Path, settings: Any) -> Iterator[Path]:
    """Copy every log record at INFO and above into a new log file while the block runs."""
    path = log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(settings.get("LOG_FORMAT"), settings.get("LOG_DATEFORMAT")))
    logging.root.addHandler(handler)
    try:
        yield path
    finally:
        logging.root.removeHandler(handler)
        handler.close()


def name_log(index: Any, run_ids: list[int], data_dir: Path, path: Path) -> None:
    """Record the log file (relative to the data directory, as WARC files are) in these runs' rows."""
    relative = str(path.relative_to(data_dir)) if path.is_relative_to(data_dir) else str(path)
    for run_id in run_ids:
        index.table("crawl_runs").update(run_id, {"log_file": relative})
