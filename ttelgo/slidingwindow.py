"""A sliding-window log in Redis, shared by every process: the provider rate limit
(`providers/ratelimit.py`) and the vendor API throttles (`vendors/throttling.py`).

One sorted set per limit; its members are the grants of the last window. One Lua script
trims, counts and adds (atomic: two processes can never both take the last slot), on
Redis's own clock, so processes with drifting clocks still agree.
"""

from __future__ import annotations

import os
from typing import Any

# Returns 0 when a slot was taken, else the microseconds until the oldest grant leaves the
# window (when a slot may free up).
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
    return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


def sliding_window_take(script: Any, *, key: str, window_seconds: float, limit: int) -> float:
    """Take a slot of `limit` per `window_seconds` under `key`: 0.0 if taken, else the
    seconds until one may free up. `script` is `client.register_script(SLIDING_WINDOW_LUA)`."""
    wait_us = int(
        script(keys=[key], args=[int(window_seconds * 1_000_000), limit, os.urandom(8).hex()])
    )
    return wait_us / 1_000_000
