"""The crawl's queue of requests waiting to be fetched, kept on disk instead of in Python's heap.

A sitemap that lists every page of a site schedules all of them at once:
20,500 Request objects held by Scrapy's memory queue (~750 bytes each, with
the garbage collector walking every one of them at each full collection)
made a crawl's memory grow with the site. Scrapy's own disk queues keep them
pickled in files instead (LIFO per priority, the order of the memory queue;
a request that cannot be pickled stays in memory, as Scrapy does).

The queue lives in a directory of its own per crawl, removed when the crawl
closes. It is never read back: a crawl killed mid-way leaves its queue files
half-written (archive/crawl/resume.py says why a resumed run starts from its
start URLs instead); the next crawl removes what a dead process left.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.squeues import PickleFifoDiskQueue, PickleLifoDiskQueue

from archive.config import Config

# The directory under the data directory where running crawls keep their queues.
QUEUES = "frontier"
_serial = itertools.count(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_queues(root: Path) -> None:
    """Remove the queue directories of crawl processes that no longer run (killed mid-crawl)."""
    if not root.is_dir():
        return
    for path in root.iterdir():
        pid = path.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _method_name(spider: Spider, func: Any) -> str | None:
    """The name of the spider method `func` (a callback or errback); ValueError if it is none."""
    if func is None or isinstance(func, str):
        return func
    name = getattr(func, "__name__", "")
    if getattr(func, "__self__", None) is not spider or getattr(spider, name, None) != func:
        raise ValueError(f"{func!r} is not a method of the spider")
    return name


def request_dict(request: Request, spider: Spider) -> dict[str, Any]:
    """What Request.to_dict(spider=...) gives, without its search of the spider's every member per
    request (inspect.getmembers, which also runs each property of the spider)."""
    found = {
        "url": request.url,
        "callback": _method_name(spider, request.callback),
        "errback": _method_name(spider, request.errback),
        "headers": dict(request.headers),
    }
    for attr in request.attributes:
        found.setdefault(attr, getattr(request, attr))
    if type(request) is not Request:
        found["_class"] = f"{type(request).__module__}.{type(request).__name__}"
    return found


class LifoRequestFiles(PickleLifoDiskQueue):
    """Scrapy's LIFO disk queue of pickled requests, each request turned into a dict by request_dict."""

    def push(self, request: Request) -> None:
        # Past PickleLifoDiskQueue's own push (Request.to_dict) to the queue that pickles the dict.
        super(PickleLifoDiskQueue, self).push(request_dict(request, self.spider))


class FifoRequestFiles(PickleFifoDiskQueue):
    """Scrapy's FIFO disk queue (start requests), each request turned into a dict by request_dict."""

    def push(self, request: Request) -> None:
        super(PickleFifoDiskQueue, self).push(request_dict(request, self.spider))


class DiskQueueScheduler(Scheduler):
    """Scrapy's scheduler with its disk queue in a fresh directory per crawl, never resumed from."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = Config.from_settings(crawler.settings).data_dir / QUEUES
        sweep_queues(root)
        jobdir = root / f"{os.getpid()}-{next(_serial)}"
        shutil.rmtree(jobdir, ignore_errors=True)
        scheduler = super().from_crawler(crawler)
        scheduler.dqdir = scheduler._dqdir(str(jobdir))
        scheduler.jobdir = jobdir
        return scheduler

    def close(self, reason: str) -> Any:
        """Close the queue's files and remove them: what is left unfetched is not resumed from here."""
        if self.dqs is not None:
            self.dqs.close()
            self.dqs = None
        shutil.rmtree(self.jobdir, ignore_errors=True)
        try:
            self.jobdir.parent.rmdir()  # the last crawl of this data directory to close
        except OSError:
            pass
        return self.df.close(reason)
