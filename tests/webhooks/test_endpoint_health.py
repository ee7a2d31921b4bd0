"""One slow or dead endpoint costs only its own deliveries: failures in a row pause the
endpoint (its deliveries wait without spending attempts), a saturated endpoint's delivery
is postponed instead of holding a worker and is handed the next freed slot, an endpoint
failing for days is disabled and its vendor told, and re-enabling starts it afresh."""

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.webhooks.factories import PUBLIC_URL, endpoint_for
from ttelgo.models import AuditLog
from ttelgo.outbox import event_record
from ttelgo.semaphore import semaphore_give_back, semaphore_take
from vendors.models import VendorUser
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OTHER_URL = "https://93.184.215.15/other"


def publish(capture, vendor, data=None):
    with capture(execute=True):
        event_record(
            vendor_id=vendor.pk,
            livemode=vendor.livemode,
            type="order.completed",
            data=data or {"order_id": 7},
        )


def test_the_backoff_doubles_from_the_third_failure_and_is_capped():
    assert services._endpoint_backoff(1) == services._endpoint_backoff(2) == timedelta(0)
    base = services.ENDPOINT_BACKOFF_BASE
    assert base <= services._endpoint_backoff(3) <= base * 1.1
    assert base * 4 <= services._endpoint_backoff(5) <= base * 4 * 1.1
    top = services.ENDPOINT_BACKOFF_MAX
    assert top <= services._endpoint_backoff(10_000) <= top * 1.1


@responses.activate
def test_failures_in_a_row_pause_the_endpoint_and_its_deliveries_wait_without_attempts(
    vendor_api, django_capture_on_commit_callbacks
):
    vendor = vendor_api.vendor
    endpoint, _ = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=503)
    with time_machine.travel(START, tick=False) as traveller:
        for i in range(services.ENDPOINT_BACKOFF_AFTER):
            publish(django_capture_on_commit_callbacks, vendor, {"n": i})
        assert len(responses.calls) == services.ENDPOINT_BACKOFF_AFTER
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == services.ENDPOINT_BACKOFF_AFTER
        assert endpoint.failing_since == START
        assert endpoint.paused_until > START

        # A new event during the pause is not sent: it waits for the pause to end.
        publish(django_capture_on_commit_callbacks, vendor, {"n": "late"})
        assert len(responses.calls) == services.ENDPOINT_BACKOFF_AFTER
        late = WebhookDelivery.objects.get(event__data={"n": "late"})
        assert late.attempt_count == 0 and late.status == WebhookDelivery.Status.PENDING
        assert late.next_attempt_at >= endpoint.paused_until

        # Once it ends, the beat task sends it, and a success clears the record.
        responses.replace(responses.POST, PUBLIC_URL, status=200)
        traveller.move_to(late.next_attempt_at)
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_attempt(delivery_id=late.pk)
    late.refresh_from_db()
    assert late.status == WebhookDelivery.Status.SUCCEEDED and late.attempt_count == 1
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.paused_until) == (
        0,
        None,
        None,
    )


@responses.activate
def test_a_paused_endpoint_costs_another_endpoints_deliveries_nothing(
    vendor_api, django_capture_on_commit_callbacks
):
    vendor = vendor_api.vendor
    endpoint_for(vendor)
    endpoint_for(vendor, url=OTHER_URL)
    responses.add(responses.POST, PUBLIC_URL, status=503)
    responses.add(responses.POST, OTHER_URL, status=200)
    with time_machine.travel(START, tick=False):
        for i in range(6):
            publish(django_capture_on_commit_callbacks, vendor, {"n": i})
    sent = [c.request.url for c in responses.calls]
    assert sent.count(OTHER_URL) == 6
    assert sent.count(PUBLIC_URL) == services.ENDPOINT_BACKOFF_AFTER  # then it paused


@responses.activate
def test_a_vendor_test_event_is_sent_at_once_even_while_the_endpoint_pauses(
    vendor_api, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_for(vendor_api.vendor)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=9, paused_until=timezone.now() + timedelta(hours=1)
    )
    responses.add(responses.POST, PUBLIC_URL, status=200)
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_test(endpoint=endpoint)
    assert len(responses.calls) == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.paused_until is None


@responses.activate
def test_an_endpoint_failing_for_days_is_disabled_and_its_vendor_told(
    vendor_api, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS = 5
    vendor = vendor_api.vendor
    endpoint, _ = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=500)
    with time_machine.travel(START, tick=False) as traveller:
        publish(django_capture_on_commit_callbacks, vendor)
        traveller.move_to(START + timedelta(days=4, hours=23))
        publish(django_capture_on_commit_callbacks, vendor)
        endpoint.refresh_from_db()
        assert endpoint.enabled and mail.outbox == []  # failing, but not yet for 5 days

        traveller.move_to(START + timedelta(days=5, minutes=1))
        publish(django_capture_on_commit_callbacks, vendor)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_automatically
    assert "5 days" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    assert [m.to for m in mail.outbox] == [[vendor.contact_email]]
    assert endpoint.url in mail.outbox[0].body and "5 days" in mail.outbox[0].body
    audit = AuditLog.objects.get(action="webhook.endpoint_auto_disable")
    assert audit.actor_label == "system" and audit.target_id == str(endpoint.pk)


@responses.activate
def test_a_success_in_between_restarts_the_count_of_days(
    vendor_api, django_capture_on_commit_callbacks
):
    vendor = vendor_api.vendor
    endpoint, _ = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=500)
    with time_machine.travel(START, tick=False) as traveller:
        publish(django_capture_on_commit_callbacks, vendor)
        traveller.move_to(START + timedelta(days=3))
        responses.replace(responses.POST, PUBLIC_URL, status=200)
        publish(django_capture_on_commit_callbacks, vendor)
        responses.replace(responses.POST, PUBLIC_URL, status=500)
        traveller.move_to(START + timedelta(days=6))
        publish(django_capture_on_commit_callbacks, vendor)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == START + timedelta(days=6)


@responses.activate
def test_the_portal_shows_the_disabled_endpoint_and_reenabling_starts_afresh(
    vendor_api, django_capture_on_commit_callbacks
):
    vendor = vendor_api.vendor
    endpoint, _ = endpoint_for(vendor)
    long_ago = timezone.now() - timedelta(days=30)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=40, failing_since=long_ago
    )
    responses.add(responses.POST, PUBLIC_URL, status=500)
    publish(django_capture_on_commit_callbacks, vendor)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_automatically

    user = UserFactory()
    VendorUser.objects.create(vendor=vendor, user=user, role="developer")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("portal:webhooks")).content.decode()
    assert 'id="endpoints-disabled-notice"' in page and endpoint.url in page
    assert "every attempt for 5 days failed" in page

    client.post(reverse("portal:webhook-action", args=[endpoint.pk, "enable"]))
    endpoint.refresh_from_db()
    assert endpoint.enabled and not endpoint.disabled_automatically
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)
    assert (
        'id="endpoints-disabled-notice"'
        not in client.get(reverse("portal:webhooks")).content.decode()
    )
    # Its old failures no longer count: the next failure does not disable it again.
    publish(django_capture_on_commit_callbacks, vendor)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 1


@responses.activate
def test_a_delivery_of_a_saturated_endpoint_waits_and_is_handed_the_freed_slot(
    vendor_api, django_capture_on_commit_callbacks, settings
):
    """With every slot of the endpoint held elsewhere, a due delivery is postponed at once
    (no request, no attempt spent, no worker held); the next attempt of that endpoint that
    frees a slot hands it over, so it goes out without waiting for the beat task."""
    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = 1
    vendor = vendor_api.vendor
    endpoint, _ = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=200)
    key = services._slot_key(endpoint.pk)
    held = semaphore_take(key, limit=1, lease_seconds=60)
    assert held is not None
    try:
        publish(django_capture_on_commit_callbacks, vendor, {"n": "waits"})
    finally:
        semaphore_give_back(key, held)
    waiting = WebhookDelivery.objects.get()
    assert len(responses.calls) == 0 and waiting.attempt_count == 0
    assert waiting.status == WebhookDelivery.Status.PENDING
    assert waiting.next_attempt_at > timezone.now()  # postponed a few seconds
    assert waiting.next_attempt_at < timezone.now() + 2 * services.BUSY_DELAY

    # The slot is free again: the next event's attempt succeeds and hands it on.
    publish(django_capture_on_commit_callbacks, vendor, {"n": "next"})
    waiting.refresh_from_db()
    assert waiting.status == WebhookDelivery.Status.SUCCEEDED
    assert len(responses.calls) == 2
    assert WebhookAttempt.objects.count() == 2


@pytest.mark.parametrize("livemode", [True, False])
@responses.activate
def test_a_410_disables_at_once_and_tells_the_live_vendors_contacts(
    vendor_api, django_capture_on_commit_callbacks, livemode
):
    from vendors.services import vendor_test_environment

    vendor = vendor_api.vendor
    if not livemode:
        vendor, _ = vendor_test_environment(vendor=vendor)
    endpoint, _ = endpoint_for(vendor)
    responses.add(responses.POST, PUBLIC_URL, status=410)
    publish(django_capture_on_commit_callbacks, vendor)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_automatically
    assert [m.to for m in mail.outbox] == [[vendor_api.vendor.notify_email]]
    assert ("test mode" in mail.outbox[0].body) is not livemode


@responses.activate
def test_the_console_counts_and_lists_the_endpoints_we_disabled(
    vendor_api, django_capture_on_commit_callbacks
):
    from console.dashboard import badge_endpoints_disabled
    from tests.console.factories import operator

    endpoint_for(vendor_api.vendor)
    endpoint_for(vendor_api.vendor, url=OTHER_URL)  # healthy
    assert badge_endpoints_disabled(None) == ""  # type: ignore[arg-type]
    responses.add(responses.POST, PUBLIC_URL, status=410)
    responses.add(responses.POST, OTHER_URL, status=200)
    publish(django_capture_on_commit_callbacks, vendor_api.vendor)
    assert badge_endpoints_disabled(None) == "1"  # type: ignore[arg-type]

    client = Client()
    client.force_login(operator("support"))
    page = client.get(
        "/admin/webhooks/webhookendpoint/?enabled__exact=0&disabled_automatically__exact=1"
    ).content.decode()
    assert PUBLIC_URL in page and OTHER_URL not in page
    assert "410 Gone" in page


@responses.activate
def test_a_burst_to_a_healthy_endpoint_queues_each_delivery_once(
    vendor_api, django_capture_on_commit_callbacks, monkeypatch
):
    """Hand-offs go only to deliveries postponed for want of a slot: ones already due are
    queued already and are not queued again."""
    from webhooks import tasks

    endpoint_for(vendor_api.vendor)
    responses.add(responses.POST, PUBLIC_URL, status=200)
    queued: list[int] = []
    send = tasks.delivery_send.delay
    monkeypatch.setattr(tasks.delivery_send, "delay", lambda pk: (queued.append(pk), send(pk))[1])
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            event_record(
                vendor_id=vendor_api.vendor.pk,
                livemode=vendor_api.vendor.livemode,
                type="order.completed",
                data={"n": i},
            )
    assert len(responses.calls) == 5
    assert sorted(queued) == sorted(WebhookDelivery.objects.values_list("pk", flat=True))


@responses.activate
def test_a_freed_slot_is_handed_to_a_test_mode_delivery_on_the_test_queue(
    vendor_api, django_capture_on_commit_callbacks, settings
):
    """The hand-off of a freed slot queues the waiting delivery where its mode's work goes
    (a test endpoint's on the test queue, never the live webhooks pool) and marks it
    queued in the same update, so the due sweep does not queue it again."""
    from unittest import mock

    from ttelgo import queues
    from vendors.services import vendor_test_environment

    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = 1
    test_vendor, _ = vendor_test_environment(vendor=vendor_api.vendor)
    endpoint, _ = endpoint_for(test_vendor)
    key = services._slot_key(endpoint.pk)
    held = semaphore_take(key, limit=1, lease_seconds=60)
    assert held is not None
    try:
        publish(django_capture_on_commit_callbacks, test_vendor, {"n": "waits"})
    finally:
        semaphore_give_back(key, held)
    waiting = WebhookDelivery.objects.get()
    assert waiting.next_attempt_at > timezone.now() and waiting.queued_until is None

    with (
        mock.patch("webhooks.tasks.delivery_send.apply_async") as sent,
        mock.patch("webhooks.tasks.delivery_send.delay") as delayed,
    ):
        services._endpoint_next_send(endpoint_id=endpoint.pk)
    assert [c.kwargs["queue"] for c in sent.call_args_list] == [queues.TEST]
    assert delayed.call_count == 0
    waiting.refresh_from_db()
    assert waiting.queued_until is not None and waiting.next_attempt_at <= timezone.now()
