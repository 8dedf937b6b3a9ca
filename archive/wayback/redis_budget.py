"""The Wayback budget of Redis mode: one budget and one pause for every worker on every machine.

The same `Budget` interface as the machine-wide FileBudget (archive/wayback/budget.py),
kept in one Redis hash per Wayback Machine URL and changed only by atomic
scripts. Slots are reserved on Redis's own clock (TIME), so workers whose
clocks disagree still space their requests as the policy says. The Wayback
Machine limits by IP: machines behind one address must share a budget, and
machines with addresses of their own are kept, conservatively, to one.
"""

from __future__ import annotations

from archive.wayback.policy import RatePolicy

PREFIX = "spyglass:wayback-budget:"
# Slots and pauses last seconds to minutes; a budget nobody used for a day is forgotten.
IDLE_EXPIRY = 86400

# KEYS: budget; ARGV: bucket, interval, expiry. Seconds to wait for the slot reserved.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slot = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'next:' .. ARGV[1]) or '0'),
                      tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0'))
redis.call('HSET', KEYS[1], 'next:' .. ARGV[1], string.format('%.6f', slot + tonumber(ARGV[2])))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return string.format('%.6f', slot - now)
"""
# KEYS: budget; ARGV: seconds, expiry.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0'))
redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', until_))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: budget. Seconds left of the pause.
PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return string.format('%.6f', math.max(0, tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0') - now))
"""


class RedisBudget:
    """A Budget in Redis at `url`, for the Wayback Machine at `key` (its base URL)."""

    def __init__(self, url: str, policy: RatePolicy, key: str) -> None:
        self.url = url
        self.policy = policy
        self.key = PREFIX + key
        self._client = None

    @property
    def client(self):  # noqa: ANN201 - redis.Redis, connected on first use
        if self._client is None:
            from archive.redis_client import connect

            self._client = connect(self.url)
            self._acquire = self._client.register_script(ACQUIRE)
            self._pause = self._client.register_script(PAUSE)
            self._paused_for = self._client.register_script(PAUSED_FOR)
        return self._client

    def acquire(self, bucket: str) -> float:
        self.client  # noqa: B018 - connects and registers the scripts
        return float(self._acquire(keys=[self.key], args=[bucket, self.policy.interval(bucket), IDLE_EXPIRY]))

    def pause(self, seconds: float) -> None:
        self.client  # noqa: B018
        self._pause(keys=[self.key], args=[seconds, IDLE_EXPIRY])

    def paused_for(self) -> float:
        self.client  # noqa: B018
        return float(self._paused_for(keys=[self.key]))
