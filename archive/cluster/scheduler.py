"""scrapy-redis's scheduler with a lease on every request a worker takes.

scrapy-redis 0.9.1 pops a request from the shared queue and forgets it: a
worker killed with requests in flight loses them (they are in the seen-set,
never fetched). Here a request moves from the queue into the run's `leases`
hash in one atomic script, and leaves it only when everything its response
produced has been sent to the ingest (the writer's Release, archive/crawl/
writer.py) or when it is queued again (a retry). The ingest hands back the
leases of a worker whose heartbeat stopped (archive/cluster/reap.py).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

from scrapy import Request
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy_redis.scheduler import Scheduler

from archive.cluster import keys

# KEYS: queue, leases; ARGV: lease id. The request's bytes, or nil when the queue is empty.
TAKE = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0)
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
redis.call('HSET', KEYS[2], ARGV[1], item[1])
return item[1]
"""
# KEYS: queue, leases, taken; ARGV: score, request, lease it replaces (or ''), URL key taken (or '').
PUT = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('SREM', KEYS[3], ARGV[4]) end
return 1
"""


# scrapy-redis 0.9.1 says "Resuming crawl" through the deprecated Spider.log: every
# worker but the first resumes a run, which is normal here, not worth a warning.
warnings.filterwarnings("ignore", message=r"Spider\.log\(\) is deprecated", category=ScrapyDeprecationWarning)


class LeasedScheduler(Scheduler):
    """The run's queue in Redis (scrapy-redis's priority queue and dupefilter); a lease per request taken.

    The spider carries `cluster` (archive/cluster/worker.py's WorkerRun): run id, worker id.
    """

    def open(self, spider: Any) -> None:
        super().open(spider)
        self.run = spider.cluster
        self.leases_key = keys.run_key(self.run.run_id, "leases")
        self.taken_key = keys.taken(self.run.run_id, self.run.worker)
        self._take = self.server.register_script(TAKE)
        self._put = self.server.register_script(PUT)
        self._serial = itertools.count(1)

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        # A retry carries the lease of the attempt it replaces: that lease ends as it is queued.
        lease = request.meta.pop("spyglass_lease", "")
        self.run.held.discard(lease)
        request.meta.pop("spyglass_handed_back", None)
        data = self.queue._encode_request(request)
        self._put(
            keys=[self.queue.key, self.leases_key, self.taken_key],
            args=[-request.priority, data, lease, request.meta.get("spyglass_key", "")],
        )
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        lease = f"{self.run.worker}#{next(self._serial)}"
        data = self._take(keys=[self.queue.key, self.leases_key], args=[lease])
        if not data:
            return None
        request = self.queue._decode_request(data)
        request.meta["spyglass_lease"] = lease
        self.run.held.add(lease)
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request
