"""The connection to Spyglass's Redis (SPYGLASS_REDIS_URL): Redis mode and the Wayback budget share it.

Its own module because both sides need it and neither may import the other:
the cluster (archive/cluster/) runs crawls, whose Wayback requests spend the
budget (archive/wayback/redis_budget.py) kept in the same Redis.
"""

from __future__ import annotations

import redis

from archive.errors import ArchiveError, ConfigError


def connect(url: str) -> redis.Redis:
    """A client for `url`, checked with a PING; an ArchiveError names the URL (less any password)."""
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=15
        )
        client.ping()
    except ValueError as exc:
        raise ConfigError(f"setting SPYGLASS_REDIS_URL: {exc}") from None
    except redis.RedisError as exc:
        raise ArchiveError(f"Redis at {redacted(url)}: cannot reach it ({exc})") from None
    return client


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
