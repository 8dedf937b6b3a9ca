"""The frontier of a crawl run shared by its workers in Redis (archive/crawl/frontier.py's interface).

A URL is taken with one atomic script: it joins the run's seen-set and the
worker's `taken` set, which the scheduler empties as it queues the request
(archive/cluster/scheduler.py). So if the worker dies between taking a URL
and queueing it, the ingest gives the URL back (archive/cluster/reap.py)
instead of leaving it seen and never fetched.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

import redis

from archive.cluster import keys
from archive.crawl.frontier import FULL, HELD, NEW, SEEN, Trap

# KEYS: seen, taken, requisites, held; ARGV: canonical URL, limit. 1 new, 0 seen, 2 full, 3 held.
CLAIM = """
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then return 3 end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 2 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
VERDICTS = {0: SEEN, 1: NEW, 2: FULL, 3: HELD}
# KEYS: held (key -> pages vouching), vouches ('key referrer'), taken, held patterns (key ->
# pattern); ARGV: key, referrer, needed. 1: vouched now (taken by this worker, to fetch);
# 0: still held, or not held.
VOUCH = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1] .. ' ' .. ARGV[2]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], ARGV[1], 1) < tonumber(ARGV[3]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""
# KEYS: seen, requisites; ARGV: canonical URL. 1 taken now, 0 taken before.
CLAIM_REQUISITE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
return redis.call('SADD', KEYS[2], ARGV[1])
"""


class RedisFrontier:
    """Run `run_id`'s seen-set, look-alike counts and limits, as worker `worker` sees them."""

    shared = True

    def __init__(self, client: redis.Redis, run_id: int, worker: str) -> None:
        self.client = client
        self.seen_key = keys.run_key(run_id, "seen")
        self.taken_key = keys.taken(run_id, worker)
        self.requisites_key = keys.run_key(run_id, "requisites")
        self.similar_key = keys.run_key(run_id, "similar")
        self.limits_key = keys.run_key(run_id, "limits")
        self.held_key = keys.run_key(run_id, "held")
        self.vouches_key = keys.run_key(run_id, "vouches")
        self.patterns_key = keys.run_key(run_id, "held-patterns")
        self.traps_key = keys.run_key(run_id, "traps")
        self._claim = client.register_script(CLAIM)
        self._claim_requisite = client.register_script(CLAIM_REQUISITE)
        self._vouch = client.register_script(VOUCH)

    def claim(self, key: str, limit: int) -> str:
        taken = [self.seen_key, self.taken_key, self.requisites_key, self.held_key]
        return VERDICTS[int(self._claim(keys=taken, args=[key, limit]))]

    def hold(self, key: str, referrer: str, trap: Trap) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.held_key, key, 1)
        pipe.hset(self.patterns_key, key, trap.pattern)
        pipe.hsetnx(self.traps_key, trap.pattern, json.dumps(asdict(trap)))
        pipe.sadd(self.vouches_key, f"{key} {referrer}")
        # Held, not waiting in a queue: a worker that dies now loses nothing to give back.
        pipe.srem(self.taken_key, key)
        pipe.execute()

    def vouch(self, key: str, referrer: str, needed: int) -> bool:
        keys_ = [self.held_key, self.vouches_key, self.taken_key, self.patterns_key]
        return bool(self._vouch(keys=keys_, args=[key, referrer, needed]))

    def traps(self) -> list[tuple[Trap, int]]:
        counts = Counter(v.decode() for v in self.client.hvals(self.patterns_key))
        if not counts:
            return []
        firsts = self.client.hmget(self.traps_key, list(counts))
        return [
            (Trap(**json.loads(first)), counts[p]) for p, first in zip(counts, firsts, strict=True) if first
        ]

    def claim_requisite(self, key: str) -> bool:
        # Not in `taken`: a requisite lost with a killed worker before it was queued is not
        # fetched in this run (its page is; the next run's page asks for it again).
        return bool(self._claim_requisite(keys=[self.seen_key, self.requisites_key], args=[key]))

    def add(self, key: str) -> None:
        # Taken without a request: nothing will queue it, so it is not in `taken`.
        self.client.sadd(self.seen_key, key)

    def __contains__(self, key: object) -> bool:
        return bool(self.client.sismember(self.seen_key, str(key)))

    def __len__(self) -> int:
        return int(self.client.scard(self.seen_key))

    def count_similar(self, pattern: str) -> int:
        return int(self.client.hincrby(self.similar_key, pattern, 1))

    def first_hit(self, limit: str) -> bool:
        return bool(self.client.sadd(self.limits_key, limit))
