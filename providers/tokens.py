"""An access token shared by every process that calls a provider (OAuth client credentials).

The token is kept in Redis (`ttelgo:token:<name>`, expiring with the token) so every web and
worker process uses the same one; a process that finds it missing or due for refresh takes
a Redis lock (`...:lock`) and, holding it, reads again before asking the provider, so however
many callers find the token stale at once, one token request is made. Without Redis (the
embedded default), or while Redis does not answer, the same holds for the threads of one
process (a dict and a lock per name).

`refresh_at` is when a token is treated as stale even though the provider would still take
it (its stated lifetime, capped by the operator's maximum age, minus a margin): refreshed
before it expires, never on the call that would have failed. A 401 with a token is
answered by `invalidate(token)` (only that token: a newer one another process fetched
meanwhile stays) and one fetch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)

_local_tokens: dict[str, tuple[str, float]] = {}
_local_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class FetchedToken:
    token: str
    expires_in: float  # seconds, as the provider says


def _local_lock(name: str) -> threading.Lock:
    with _registry_lock:
        return _local_locks.setdefault(name, threading.Lock())


class TokenCache:
    """One provider's token. `max_age` caps the provider's stated lifetime (Airalo says 24 h
    in words and a year in its sample); `margin` is how long before that it is refreshed."""

    def __init__(
        self,
        *,
        name: str,
        client: redis.Redis | None,
        max_age: float,
        margin: float,
        lock_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        cooldown: float = 5.0,
    ) -> None:
        self.name = name
        self.key = f"ttelgo:token:{name}"
        self.client = client
        self.max_age = max_age
        self.margin = margin
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.cooldown = cooldown
        self.redis_down_until: float | None = None

    # --- storage --------------------------------------------------------------------------
    def _redis(self) -> redis.Redis | None:
        if self.client is None:
            return None
        if self.redis_down_until is not None and time.monotonic() < self.redis_down_until:
            return None
        return self.client

    def _redis_failed(self, exc: Exception) -> None:
        self.redis_down_until = time.monotonic() + self.cooldown
        logger.warning(
            "token %s: Redis unavailable (%s); this process keeps its own", self.name, exc
        )

    def _read(self) -> tuple[str, float] | None:
        client = self._redis()
        if client is not None:
            try:
                raw = client.get(self.key)
            except redis.RedisError as exc:
                self._redis_failed(exc)
            else:
                if not raw:
                    return None
                try:
                    stored = json.loads(raw)
                    return str(stored["token"]), float(stored["refresh_at"])
                except (ValueError, KeyError, TypeError):
                    return None
        return _local_tokens.get(self.name)

    def _write(self, token: str, refresh_at: float, expires_at: float) -> None:
        _local_tokens[self.name] = (token, refresh_at)
        client = self._redis()
        if client is None:
            return
        ttl = max(1, int(expires_at - self.clock()))
        try:
            client.set(self.key, json.dumps({"token": token, "refresh_at": refresh_at}), ex=ttl)
        except redis.RedisError as exc:
            self._redis_failed(exc)

    # --- use ------------------------------------------------------------------------------
    def current(self) -> str | None:
        """The cached token while it is fresh, else None."""
        found = self._read()
        if found is None:
            return None
        token, refresh_at = found
        return token if self.clock() < refresh_at else None

    def get(self, fetch: Callable[[], FetchedToken]) -> str:
        """A fresh token: the cached one, or one `fetch()` made by one caller at a time
        across processes (the others wait for the lock and take what it stored)."""
        token = self.current()
        if token is not None:
            return token
        with self._lock():
            token = self.current()
            if token is not None:
                return token
            fetched = fetch()
            now = self.clock()
            lifetime = min(max(fetched.expires_in, 0.0), self.max_age)
            refresh_at = now + max(lifetime - self.margin, lifetime / 2)
            self._write(fetched.token, refresh_at, now + lifetime)
            return fetched.token

    def invalidate(self, token: str) -> None:
        """Forget `token` (the provider refused it), unless another caller replaced it."""
        found = self._read()
        if found is None or found[0] != token:
            return
        _local_tokens.pop(self.name, None)
        client = self._redis()
        if client is None:
            return
        try:
            raw = client.get(self.key)
            if raw and json.loads(raw).get("token") == token:
                client.delete(self.key)
        except (redis.RedisError, ValueError) as exc:
            if isinstance(exc, redis.RedisError):
                self._redis_failed(exc)

    def _lock(self) -> _TokenLock:
        return _TokenLock(self)


class _TokenLock:
    """The Redis lock when Redis answers (held at most `lock_timeout`), and always the
    process's own lock (so threads of one process queue here, not on Redis)."""

    def __init__(self, cache: TokenCache) -> None:
        self.cache = cache
        self.local = _local_lock(cache.name)
        self.remote: redis.lock.Lock | None = None

    def __enter__(self) -> None:
        self.local.acquire()
        client = self.cache._redis()
        if client is None:
            return
        try:
            lock = client.lock(
                f"{self.cache.key}:lock",
                timeout=self.cache.lock_timeout,
                blocking_timeout=self.cache.lock_timeout,
            )
            if lock.acquire():
                self.remote = lock
        except redis.RedisError as exc:
            self.cache._redis_failed(exc)

    def __exit__(self, *exc: object) -> None:
        try:
            if self.remote is not None:
                try:
                    self.remote.release()
                except redis.RedisError:
                    pass  # expired or Redis gone: the lock times out on its own
        finally:
            self.local.release()
