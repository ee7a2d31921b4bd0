"""The per-endpoint cap holds across real concurrent workers (PostgreSQL, the Redis
semaphore): never more than WEBHOOKS_ENDPOINT_CONCURRENCY attempts of one slow endpoint in
flight, while another endpoint's deliveries go out beside them; every delivery arrives
once, on its first attempt (waiting for a slot spends none)."""

import threading
from collections import Counter

import pytest
import responses
from django.db import connection, transaction
from django.utils import timezone

from tests.webhooks.factories import PUBLIC_URL, endpoint_for
from webhooks import services
from webhooks.models import WebhookDelivery

SLOW_URL = PUBLIC_URL
FAST_URL = "https://93.184.215.15/fast"
CAP = 2
WORKERS = 8
EACH = 12


class _Receivers:
    """Counts the requests in flight per URL, and what the fast endpoint saw of the slow."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.slow_seen_by_fast: list[int] = []

    def slow(self, request):
        with self.lock:
            self.in_flight[SLOW_URL] += 1
            self.most[SLOW_URL] = max(self.most[SLOW_URL], self.in_flight[SLOW_URL])
        try:
            threading.Event().wait(0.25)  # a slow receiver
            return (200, {}, "ok")
        finally:
            with self.lock:
                self.in_flight[SLOW_URL] -= 1

    def fast(self, request):
        with self.lock:
            self.slow_seen_by_fast.append(self.in_flight[SLOW_URL])
        return (200, {}, "ok")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_slow_endpoint_never_has_more_than_the_cap_in_flight_while_another_proceeds(
    settings,
):
    from tests.vendors.factories import vendor_with_key

    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = CAP
    vendor, _ = vendor_with_key()
    slow, _ = endpoint_for(vendor, url=SLOW_URL)
    fast, _ = endpoint_for(vendor, url=FAST_URL)
    receivers = _Receivers()
    responses.add_callback(responses.POST, SLOW_URL, callback=receivers.slow)
    responses.add_callback(responses.POST, FAST_URL, callback=receivers.fast)

    ids: list[int] = []
    with transaction.atomic():
        for i in range(EACH):
            event = services._event_create(
                vendor_id=vendor.pk, type="order.completed", data={"n": i}
            )
            for endpoint in (slow, fast):
                ids.append(
                    WebhookDelivery.objects.create(
                        event=event,
                        endpoint=endpoint,
                        vendor=vendor,
                        next_attempt_at=timezone.now(),
                    ).pk
                )
    queue = list(ids)
    queue_lock = threading.Lock()
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            while True:
                with queue_lock:
                    if not queue:
                        return
                    delivery_id = queue.pop(0)
                # Hand-offs run inline here (eager tasks), as a worker would run them next.
                services.delivery_attempt(delivery_id=delivery_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    # Every delivery went out in that pass, each slow one once a slot was handed to it
    # (none was left for the beat task), and the fast ones beside the slow endpoint's
    # full slots.
    assert receivers.most[SLOW_URL] == CAP  # the cap was reached and never passed
    assert max(receivers.slow_seen_by_fast) == CAP
    rows = WebhookDelivery.objects.filter(pk__in=ids).values_list("status", "attempt_count")
    assert set(rows) == {(WebhookDelivery.Status.SUCCEEDED, 1)}
    sent = Counter(c.request.url for c in responses.calls)
    assert sent == {SLOW_URL: EACH, FAST_URL: EACH}
