"""A hung Redis (it accepts the connection and never answers) costs the circuit breaker
half a second, not the request: the provider call behind it still runs."""

from __future__ import annotations

import socket
import threading
import time

from esims.providers.resilience import build_breaker


def test_a_hung_redis_does_not_hang_the_breaker():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept_and_stay_silent() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        breaker = build_breaker(
            name="hung-redis-test",
            fail_max=3,
            reset_timeout=30,
            redis_url=f"redis://127.0.0.1:{port}/0",
        )
        started = time.monotonic()
        assert breaker.call(lambda: "provider answered") == "provider answered"
        assert time.monotonic() - started < 5
    finally:
        listener.close()
        for conn in held:
            conn.close()
