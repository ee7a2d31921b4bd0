"""The shared semaphore: at most `limit` holders of a key; a slot given back or whose lease
ended is free again; keys are independent. In Redis on the full stack, in process without."""

import time

import pytest

from ttelgo import semaphore
from ttelgo.semaphore import semaphore_give_back, semaphore_take


def _exercise(key: str) -> None:
    first = semaphore_take(key, limit=2, lease_seconds=60)
    second = semaphore_take(key, limit=2, lease_seconds=60)
    assert first and second and first != second
    assert semaphore_take(key, limit=2, lease_seconds=60) is None
    assert semaphore_take(key + ":other", limit=2, lease_seconds=60) is not None
    semaphore_give_back(key, first)
    third = semaphore_take(key, limit=2, lease_seconds=60)
    assert third is not None
    assert semaphore_take(key, limit=2, lease_seconds=60) is None
    for token in (second, third):
        semaphore_give_back(key, token)


def test_the_in_process_table_holds_the_limit_and_frees_ended_leases(monkeypatch):
    monkeypatch.setattr(semaphore, "_script", lambda: None)
    _exercise("test:local")
    clock = [1000.0]
    monkeypatch.setattr(semaphore.time, "monotonic", lambda: clock[0])
    assert semaphore_take("test:lease", limit=1, lease_seconds=10) is not None
    assert semaphore_take("test:lease", limit=1, lease_seconds=10) is None
    clock[0] += 11  # the holder died without giving it back: its lease ends
    assert semaphore_take("test:lease", limit=1, lease_seconds=10) is not None


@pytest.mark.postgres
def test_the_redis_semaphore_holds_the_limit_and_frees_ended_leases():
    from django_redis import get_redis_connection

    _exercise("test:redis")
    key = f"test:redis-lease:{time.time_ns()}"
    token = semaphore_take(key, limit=1, lease_seconds=0.05)
    assert token is not None and not token.startswith("local:")
    assert get_redis_connection("default").zcard(semaphore._redis_key(key)) == 1
    assert semaphore_take(key, limit=1, lease_seconds=0.05) is None
    time.sleep(0.2)  # on Redis's clock the lease has ended
    assert semaphore_take(key, limit=1, lease_seconds=0.05) is not None
