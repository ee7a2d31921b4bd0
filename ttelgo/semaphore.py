"""A counting semaphore shared by every process, whose slots are leases.

At most `limit` holders of one key at once, across all web and worker processes: one
sorted set per key in Redis, whose members are the holders' tokens scored by when their
lease ends. One Lua script drops the expired leases, counts and adds (atomic, so two
processes can never both take the last slot), on Redis's own clock. A holder that dies
without releasing frees its slot when the lease ends.

Without Redis (the embedded default), or while Redis does not answer, an in-process table
with the same rules holds the limit for the threads of one process (a Redis outage also
stops the Celery broker, so little runs in that window anyway).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.core.cache import cache, caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Returns 1 when a slot was taken for ARGV[3], else 0.
SEMAPHORE_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.floor(lease / 1000) + 1000)
    return 1
end
return 0
"""

REDIS_RETRY_SECONDS = 5.0
_LOCAL_MARK = "local:"


class _LocalSlots:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leases: dict[str, dict[str, float]] = {}

    def take(self, key: str, *, limit: int, lease_seconds: float) -> str | None:
        now = time.monotonic()
        with self.lock:
            held = {t: end for t, end in self.leases.get(key, {}).items() if end > now}
            if len(held) >= limit:
                self.leases[key] = held
                return None
            token = _LOCAL_MARK + os.urandom(8).hex()
            held[token] = now + lease_seconds
            self.leases[key] = held
            return token

    def give_back(self, key: str, token: str) -> None:
        with self.lock:
            self.leases.get(key, {}).pop(token, None)


_local = _LocalSlots()
_redis_down_until = 0.0


def _script() -> Any | None:
    if not isinstance(caches["default"], RedisCache) or time.monotonic() < _redis_down_until:
        return None
    return get_redis_connection("default").register_script(SEMAPHORE_TAKE_LUA)


def _redis_key(key: str) -> str:
    return f"{cache.key_prefix}:semaphore:{key}"


def semaphore_take(key: str, *, limit: int, lease_seconds: float) -> str | None:
    """A token holding one of `limit` slots of `key` for at most `lease_seconds`, or None
    when all are held. Give it back with `semaphore_give_back`."""
    global _redis_down_until
    script = _script()
    if script is not None:
        token = os.urandom(8).hex()
        try:
            taken = script(
                keys=[_redis_key(key)], args=[limit, int(lease_seconds * 1_000_000), token]
            )
        except RedisError as exc:
            # Do not pay a failed connection per call: try Redis again after a pause.
            _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning("semaphore %s: Redis unavailable (%s); this process only", key, exc)
        else:
            return token if int(taken) else None
    return _local.take(key, limit=limit, lease_seconds=lease_seconds)


def semaphore_give_back(key: str, token: str) -> None:
    """Free the slot early (its lease would free it anyway)."""
    if token.startswith(_LOCAL_MARK):
        _local.give_back(key, token)
        return
    try:
        get_redis_connection("default").zrem(_redis_key(key), token)
    except RedisError as exc:
        logger.warning("semaphore %s: slot not given back (%s); its lease frees it", key, exc)
