"""Operators: payments with refunds inline and a refund dialog; stored events with a
reprocess action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Order
from payments.models import Payment, Refund
from payments.services import payment_create_for_order, payment_intent_sync
from sandbox.models import SandboxPaymentIntent
from tests.factories import UserFactory
from tests.payments.factories import signed_post, stripe_event
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


@pytest.fixture
def paid(order, provision_delay, django_capture_on_commit_callbacks) -> Payment:
    payment = payment_create_for_order(order=order)
    SandboxPaymentIntent.objects.filter(pk=payment.payment_intent_id).update(status="succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        payment_intent_sync(payment_intent_id=payment.payment_intent_id)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    payment.refresh_from_db()
    return payment


def test_payment_pages_render(admin_client, paid):
    assert admin_client.get(reverse("admin:payments_payment_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:payments_payment_change", args=[paid.pk]))
    assert page.status_code == 200
    assert paid.payment_intent_id in page.content.decode()


def test_partial_then_full_refund_from_the_admin(
    admin_client, paid, django_capture_on_commit_callbacks
):
    url = reverse("admin:payments_payment_refund_detail", args=[paid.pk])
    assert admin_client.get(url).status_code == 200  # the dialog
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"_form_submitted": "1", "amount": "4.00", "reason": "one eSIM unused"}
        )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.actor_id) == (
        400,
        "one eSIM unused",
        admin_client.admin.pk,
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"_form_submitted": "1", "amount": "", "reason": "goodwill"})
    paid.refresh_from_db()
    assert paid.refunded_amount == 1500
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.REFUNDED


def test_refund_without_reason_is_not_submitted(admin_client, paid):
    url = reverse("admin:payments_payment_refund_detail", args=[paid.pk])
    response = admin_client.post(url, {"_form_submitted": "1", "amount": "1.00"})
    assert response.status_code == 200  # the dialog again, with the error
    assert not Refund.objects.exists()


def test_reprocess_action_runs_failed_events_again(
    admin_client, api_client, paid, django_capture_on_commit_callbacks
):
    event = stripe_event(
        "charge.dispute.created",
        {"id": "dp_1", "object": "dispute", "payment_intent": paid.payment_intent_id},
    )
    signed_post(api_client, event)  # stored, its task not run (callbacks not executed)
    stored = InboundEvent.objects.get()
    InboundEvent.objects.filter(pk=stored.pk).update(status="failed", error="boom")
    changelist = reverse("admin:webhooks_inboundevent_changelist")
    assert admin_client.get(changelist).status_code == 200
    detail = admin_client.get(reverse("admin:webhooks_inboundevent_change", args=[stored.pk]))
    assert "dp_1" in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist, {"action": "reprocess", "_selected_action": [stored.pk]}
        )
    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.status, stored.error, stored.attempts) == ("processed", "", 1)
    paid.refresh_from_db()
    assert paid.disputed_at is not None
