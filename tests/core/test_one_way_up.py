"""One way up: a lower layer tells a higher one by an outbox message naming the higher
layer's task, recorded in its own transaction (ttelgo/outbox.py). No payment signals,
no in-process subscriber registry; the one Django signal kept is the README's exception
(a reaction that may refuse the change)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

import ttelgo.outbox
from orders.models import Order
from payments.models import Payment
from payments.services import ORDER_PAYMENT_TASK, payment_dispute_opened
from tests.core.test_queues import PROJECT_APPS
from tests.payments.factories import OrderFactory
from tests.vendors.factories import vendor_with_key
from tests.webhooks.factories import endpoint_for
from ttelgo.models import OutboxMessage
from ttelgo.outbox import EVENT_PUBLISH_TASK, event_record
from webhooks import services as webhooks
from webhooks.models import WebhookDelivery, WebhookEvent

ROOT = Path(__file__).resolve().parent.parent.parent
# The one in-transaction reaction kept (README, "One way up"): billing may refuse a
# credit limit the ledger cannot hold, so it runs inside the vendor's change.
KEPT_SIGNALS = {"vendors/signals.py"}


def test_no_app_defines_a_signal_or_a_subscriber_registry_to_tell_a_higher_layer():
    defined = set()
    for app in PROJECT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Signal":
                    defined.add(str(path.relative_to(ROOT)))
    assert defined == KEPT_SIGNALS
    assert not hasattr(ttelgo.outbox, "event_subscribe")
    assert not (ROOT / "payments" / "signals.py").exists()


@pytest.mark.django_db
def test_an_order_payment_change_moves_the_order_after_it_commits_by_an_outbox_message(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(status=Order.Status.PROVISIONING)
    Payment.objects.create(
        kind=Payment.Kind.ORDER,
        payment_intent_id="pi_3Oneway",
        amount=1500,
        currency="USD",
        status=Payment.Status.SUCCEEDED,
        order=order,
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        payment_dispute_opened(payment_intent_id="pi_3Oneway", reason="fraudulent")
        (row,) = OutboxMessage.objects.filter(task=ORDER_PAYMENT_TASK)
        assert row.args == [order.pk, "disputed", {"reason": "fraudulent"}]
        order.refresh_from_db()
        assert order.disputed_at is None  # the orders app has not been called in here
    order.refresh_from_db()
    assert order.disputed_at is not None
    assert [m.to for m in mail.outbox] == [[settings.OPERATIONS_EMAIL]]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_domain_event_is_published_after_commit_and_once_when_its_message_comes_twice(
    django_capture_on_commit_callbacks,
):
    vendor, _ = vendor_with_key()
    endpoint_for(vendor)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        event_record(
            vendor_id=vendor.pk, livemode=vendor.livemode, type="invoice.issued", data={"id": 7}
        )
    (row,) = OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK)
    assert not WebhookEvent.objects.exists()  # nothing published before the commit ran
    vendor_id, type, data, public_id, at = row.args
    for _ in range(2):  # at least once: the relay may send a message again
        webhooks.event_publish(
            vendor_id=vendor_id, type=type, data=data, public_id=public_id, created_at=at
        )
    (event,) = WebhookEvent.objects.all()
    assert (event.public_id, event.type, event.data) == (public_id, "invoice.issued", {"id": 7})
    assert WebhookDelivery.objects.filter(event=event).count() == 1
