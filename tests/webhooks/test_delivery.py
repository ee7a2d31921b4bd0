"""Outbound deliveries: signing, retries on a schedule, giving up, disabling, replay."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.webhooks.factories import PUBLIC_URL, endpoint_for
from ttelgo.outbox import event_record
from webhooks import services, urlguard
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.services import MAX_ATTEMPTS, RETRY_SCHEDULE
from webhooks.tasks import deliveries_send_due

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def publish(capture, vendor, type="order.completed", data=None):
    with capture(execute=True):
        event_record(
            vendor_id=vendor.pk, livemode=vendor.livemode, type=type, data=data or {"order_id": 7}
        )


@responses.activate
def test_an_event_is_posted_signed_with_the_standard_webhooks_body(
    vendor_api, django_capture_on_commit_callbacks
):
    _endpoint, secret = endpoint_for(vendor_api.vendor)
    responses.add(responses.POST, PUBLIC_URL, status=204)

    publish(django_capture_on_commit_callbacks, vendor_api.vendor, data={"order_id": 7})

    assert len(responses.calls) == 1
    request = responses.calls[0].request
    payload = Webhook(secret).verify(request.body, dict(request.headers))
    event = WebhookEvent.objects.get()
    assert payload == {
        "id": event.public_id,
        "type": "order.completed",
        "created_at": payload["created_at"],
        "livemode": True,
        "data": {"order_id": 7},
    }
    assert payload["created_at"].endswith("Z")
    assert request.headers["webhook-id"] == event.public_id
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.next_attempt_at is None
    attempt = WebhookAttempt.objects.get()
    assert attempt.succeeded and attempt.status_code == 204 and attempt.latency_ms >= 0


@responses.activate
def test_only_enabled_endpoints_subscribed_to_the_type_receive_it(
    vendor_api, other_vendor_api, django_capture_on_commit_callbacks
):
    endpoint_for(vendor_api.vendor, events=["order.failed"])
    endpoint_for(other_vendor_api.vendor, url="https://93.184.215.15/other")
    responses.add(responses.POST, PUBLIC_URL, status=200)

    publish(django_capture_on_commit_callbacks, vendor_api.vendor, type="order.completed")

    assert len(responses.calls) == 0
    assert WebhookDelivery.objects.count() == 0
    assert WebhookEvent.objects.filter(vendor=vendor_api.vendor).count() == 1


def test_nothing_is_recorded_or_sent_when_the_callers_transaction_rolls_back(vendor_api):
    endpoint_for(vendor_api.vendor)
    with pytest.raises(RuntimeError), transaction.atomic():
        event_record(
            vendor_id=vendor_api.vendor.pk,
            livemode=vendor_api.vendor.livemode,
            type="order.completed",
            data={},
        )
        raise RuntimeError("the order failed to save")
    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_unknown_event_types_are_a_programming_error(vendor_api):
    with pytest.raises(ValueError):
        event_record(
            vendor_id=vendor_api.vendor.pk,
            livemode=vendor_api.vendor.livemode,
            type="order.exploded",
            data={},
        )


@responses.activate
def test_retries_follow_the_day_long_jittered_schedule_with_one_webhook_id(
    vendor_api, django_capture_on_commit_callbacks
):
    vendor = vendor_api.vendor
    endpoint, secret = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=503, body="down for maintenance")
    gaps: list[timedelta] = []

    with time_machine.travel(START, tick=False) as traveller:
        publish(django_capture_on_commit_callbacks, vendor)
        delivery = WebhookDelivery.objects.get()
        while delivery.status == WebhookDelivery.Status.PENDING:
            gaps.append(delivery.next_attempt_at - timezone.now())
            # Not yet due: the beat task leaves it alone.
            traveller.move_to(delivery.next_attempt_at - timedelta(seconds=1))
            calls_before = len(responses.calls)
            deliveries_send_due.delay()
            assert len(responses.calls) == calls_before
            traveller.move_to(delivery.next_attempt_at)
            with django_capture_on_commit_callbacks(execute=True):
                deliveries_send_due.delay()
            assert len(responses.calls) == calls_before + 1
            delivery.refresh_from_db()
        # The last attempt's signature is fresh and valid right now.
        last = responses.calls[-1].request
        Webhook(secret).verify(last.body, dict(last.headers))

    assert len(responses.calls) == MAX_ATTEMPTS == len(RETRY_SCHEDULE) + 1
    for gap, base in zip(gaps, RETRY_SCHEDULE, strict=True):
        assert base * 0.9 <= gap <= base * 1.1
    assert len(set(gaps)) > 1
    total = sum(gaps, timedelta())
    assert timedelta(hours=20) <= total <= timedelta(hours=28)  # "about a day"

    ids = {call.request.headers["webhook-id"] for call in responses.calls}
    bodies = {call.request.body for call in responses.calls}
    stamps = [int(call.request.headers["webhook-timestamp"]) for call in responses.calls]
    assert ids == {delivery.event.public_id}
    assert len(bodies) == 1
    assert stamps == sorted(stamps) and len(set(stamps)) == MAX_ATTEMPTS

    assert delivery.status == WebhookDelivery.Status.FAILED
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert len(attempts) == MAX_ATTEMPTS == delivery.attempt_count
    assert {(a.status_code, a.response_body, a.succeeded) for a in attempts} == {
        (503, "down for maintenance", False)
    }
    # One delivery giving up after a day does not disable the endpoint (that takes days of
    # nothing but failures: tests/webhooks/test_endpoint_health.py); its record shows it.
    endpoint.refresh_from_db()
    assert endpoint.enabled and mail.outbox == []
    assert endpoint.consecutive_failures == MAX_ATTEMPTS
    assert endpoint.failing_since == START


@responses.activate
def test_a_410_disables_the_endpoint_at_once_and_emails_the_vendor(
    vendor_api, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_for(vendor_api.vendor)
    responses.add(responses.POST, PUBLIC_URL, status=410)

    publish(django_capture_on_commit_callbacks, vendor_api.vendor)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempt_count == 1 and delivery.next_attempt_at is None
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "410" in endpoint.disabled_reason
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [vendor_api.vendor.contact_email]

    # Later events no longer go to it.
    publish(django_capture_on_commit_callbacks, vendor_api.vendor)
    assert WebhookDelivery.objects.count() == 1
    assert len(responses.calls) == 1


@responses.activate
def test_a_network_error_is_logged_and_retried(vendor_api, django_capture_on_commit_callbacks):
    endpoint_for(vendor_api.vendor)
    responses.add(responses.POST, PUBLIC_URL, body=requests.ConnectionError("refused"))
    with time_machine.travel(START, tick=False):
        publish(django_capture_on_commit_callbacks, vendor_api.vendor)
    delivery = WebhookDelivery.objects.get()
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "ConnectionError" in attempt.error
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at > START


@responses.activate
def test_redirects_are_not_followed_and_responses_are_truncated(
    vendor_api, django_capture_on_commit_callbacks
):
    endpoint_for(vendor_api.vendor)
    responses.add(
        responses.POST,
        PUBLIC_URL,
        status=302,
        headers={"Location": "http://127.0.0.1/admin"},
        body="x" * 5000,
    )
    publish(django_capture_on_commit_callbacks, vendor_api.vendor)
    assert len(responses.calls) == 1  # the loopback Location was never requested
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 302 and not attempt.succeeded
    assert len(attempt.response_body) == services.RESPONSE_LOG_LIMIT


@responses.activate
def test_the_url_is_checked_again_at_delivery_time(
    vendor_api, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])
    endpoint_for(vendor_api.vendor, url="https://hooks.vendor.example/in")
    # DNS now points the name at the metadata service (rebinding).
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["169.254.169.254"])

    publish(django_capture_on_commit_callbacks, vendor_api.vendor)

    assert len(responses.calls) == 0
    attempt = WebhookAttempt.objects.get()
    assert attempt.error.startswith("refused") and attempt.status_code is None
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PENDING


@responses.activate
@pytest.mark.parametrize(
    "rebound",
    [
        "2002:7f00:1::",  # 6to4 carrying 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 carrying the metadata service
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible loopback
    ],
)
def test_a_name_rebound_to_an_ipv6_form_of_a_private_address_is_refused_at_delivery(
    vendor_api, django_capture_on_commit_callbacks, monkeypatch, rebound
):
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])
    endpoint_for(vendor_api.vendor, url="https://hooks.vendor.example/in")
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: [rebound])

    publish(django_capture_on_commit_callbacks, vendor_api.vendor)

    assert len(responses.calls) == 0
    attempt = WebhookAttempt.objects.get()
    assert attempt.error.startswith("refused") and attempt.status_code is None


@responses.activate
def test_a_replay_resends_the_same_webhook_id_on_a_fresh_schedule(
    vendor_api, django_capture_on_commit_callbacks
):
    endpoint_for(vendor_api.vendor)
    responses.add(responses.POST, PUBLIC_URL, status=500)
    responses.add(responses.POST, PUBLIC_URL, status=200)
    with time_machine.travel(START, tick=False):
        publish(django_capture_on_commit_callbacks, vendor_api.vendor)
        delivery = WebhookDelivery.objects.get()
        assert delivery.schedule_attempts == 1
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_retry(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2 and delivery.schedule_attempts == 1
    ids = [c.request.headers["webhook-id"] for c in responses.calls]
    assert ids == [delivery.event.public_id] * 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@responses.activate
def test_concurrent_workers_send_a_due_delivery_once():
    from tests.vendors.factories import vendor_with_key

    vendor, _ = vendor_with_key()
    endpoint_for(vendor)

    def slow_ok(request):
        threading.Event().wait(0.3)
        return (200, {}, "ok")

    responses.add_callback(responses.POST, PUBLIC_URL, callback=slow_ok)
    with transaction.atomic():
        event = services._event_create(vendor_id=vendor.pk, type="order.completed", data={})
        delivery = WebhookDelivery.objects.create(
            event=event,
            endpoint=vendor.webhook_endpoints.get(),
            vendor=vendor,
            next_attempt_at=timezone.now(),
        )
    barrier = threading.Barrier(4)
    results = []

    def worker():
        from django.db import connection

        try:
            barrier.wait()
            results.append(services.delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(responses.calls) == 1
    assert sum(r is not None for r in results) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
    body = json.loads(responses.calls[0].request.body)
    assert body["id"] == event.public_id


@responses.activate
def test_delivery_dials_the_checked_address_with_the_original_host(
    vendor_api, django_capture_on_commit_callbacks, monkeypatch
):
    """No second DNS lookup after the check (DNS rebinding): the request goes to the
    approved IP with the vendor's Host header."""
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])
    _, secret = endpoint_for(vendor_api.vendor, url="https://hooks.vendor.example:8443/in?x=1")
    responses.add(responses.POST, "https://93.184.215.14:8443/in?x=1", status=200)

    publish(django_capture_on_commit_callbacks, vendor_api.vendor)

    request = responses.calls[0].request
    assert request.url == "https://93.184.215.14:8443/in?x=1"
    assert request.headers["Host"] == "hooks.vendor.example:8443"
    Webhook(secret).verify(request.body, dict(request.headers))
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


def test_the_pinned_adapter_keeps_sni_and_certificate_checks_on_the_hostname():
    from webhooks.http import _PinnedHostAdapter

    adapter = _PinnedHostAdapter("hooks.vendor.example")
    pool = adapter.poolmanager.connection_from_url("https://93.184.215.14/in")
    assert pool.conn_kw.get("server_hostname") == "hooks.vendor.example"
    assert pool.assert_hostname == "hooks.vendor.example"
