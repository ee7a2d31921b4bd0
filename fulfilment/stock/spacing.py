"""The spacing between the refill's provider orders, shared by every process.

eSIM Go advises a few seconds between orders (STOCK_REFILL_SPACING_SECONDS). Refill runs
may overlap (the beat job, an operator's "refill now", a run that outlived its minute), in
several worker processes: the spacing must hold across all of them, not only between one
run's own orders.

One Redis key per provider and mode holds the next moment an order may be placed. A
caller claims the next slot with one Lua script (atomic): its slot is the later of now and
that moment, and the moment moves one spacing past it. Two callers never get one slot, and
any two slots are at least one spacing apart. The caller then waits until its slot. Time
is Redis's own clock, so processes with drifting clocks agree.

Without Redis (the embedded default), or while Redis does not answer, the same claim runs
in this process (its own clock, under a lock): the spacing then holds within the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings

from providers.resilience import provider_redis_client

logger = logging.getLogger(__name__)

# Returns "<slot> <wait>" in seconds: the slot claimed (Redis time) and how long until it.
SPACING_CLAIM_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local spacing = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
redis.call('SET', KEYS[1], string.format('%.6f', slot + spacing),
           'PX', math.floor((slot + spacing - now) * 1000) + 60000)
return string.format('%.6f %.6f', slot, slot - now)
"""


@dataclass(frozen=True)
class Slot:
    at: float  # when the order may be placed (the claiming clock's seconds)
    wait: float  # seconds from the claim until then
    shared: bool  # claimed in Redis (all processes), not in this process only


_local_lock = threading.Lock()
_local_next: dict[str, float] = {}
_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    """One client (and its pool) per URL in this process."""
    with _local_lock:
        if url not in _clients:
            _clients[url] = provider_redis_client(url)
        return _clients[url]


def _local_claim(key: str, spacing: float, clock: Callable[[], float]) -> Slot:
    with _local_lock:
        now = clock()
        slot = max(now, _local_next.get(key, 0.0))
        _local_next[key] = slot + spacing
    return Slot(at=slot, wait=slot - now, shared=False)


def order_slots_forget() -> None:
    """Forget this process's own slots (tests start from a clean clock)."""
    with _local_lock:
        _local_next.clear()


def spacing_key(*, provider: str, livemode: bool) -> str:
    return f"ttelgo:stock:order-spacing:{provider or 'default'}:{'live' if livemode else 'test'}"


def order_slot_claim(
    *,
    provider: str,
    livemode: bool,
    spacing: float | None = None,
    redis_url: str | None = None,
) -> Slot:
    """Claim the next moment a refill order may be placed at `provider` in this mode
    (the module docstring): at least `spacing` seconds (STOCK_REFILL_SPACING_SECONDS)
    after every slot claimed before, by any process sharing Redis."""
    gap = float(settings.STOCK_REFILL_SPACING_SECONDS if spacing is None else spacing)
    key = spacing_key(provider=provider, livemode=livemode)
    if gap <= 0:
        return Slot(at=time.monotonic(), wait=0.0, shared=False)
    url = settings.REDIS_URL if redis_url is None else redis_url
    if url:
        try:
            raw = _client(url).eval(SPACING_CLAIM_LUA, 1, key, repr(gap))
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            at, wait = (float(part) for part in text.split())
            return Slot(at=at, wait=max(0.0, wait), shared=True)
        except redis.RedisError as exc:
            logger.warning("refill spacing: Redis unavailable (%s); spacing this process only", exc)
    return _local_claim(key, gap, time.monotonic)


def order_slot_wait(
    *,
    provider: str,
    livemode: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Slot:
    """Claim the next slot and wait for it (`sleep` is called only when there is a wait)."""
    slot = order_slot_claim(provider=provider, livemode=livemode)
    if slot.wait > 0:
        sleep(slot.wait)
    return slot
