"""Webhook and payment operations by role: reprocessing inbound events, replaying
deliveries, enabling endpoints and refunding top-ups; each one audited."""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from console.operator import operator_payment_refund
from tests.console.factories import operator
from tests.factories import VendorFactory
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money
from webhooks.models import InboundEvent, WebhookDelivery
from webhooks.operator import (
    operator_delivery_replay,
    operator_endpoint_set_enabled,
    operator_inbound_reprocess,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def failed_event():
    return InboundEvent.objects.create(
        source="stripe",
        event_id="evt_console_1",
        event_type="customer.created",  # nothing handles it: processing just records it
        payload={"id": "evt_console_1", "type": "customer.created", "data": {"object": {}}},
        status="failed",
        error="boom",
    )


def test_support_cannot_reprocess_inbound_events(failed_event):
    support = operator("support")
    with pytest.raises(DomainError) as exc:
        operator_inbound_reprocess(event_id=failed_event.pk, actor=support)
    assert exc.value.code == "permission_denied"
    client_for(support).post(
        "/admin/webhooks/inboundevent/",
        {"action": "reprocess", "_selected_action": [failed_event.pk]},
    )
    failed_event.refresh_from_db()
    assert failed_event.status == "failed"
    assert not AuditLog.objects.exists()


def test_admin_reprocesses_an_event_from_its_page_and_it_is_audited(failed_event):
    boss = operator("admin")
    page = client_for(boss).get(f"/admin/webhooks/inboundevent/{failed_event.pk}/change/")
    assert "evt_console_1" in page.content.decode()
    response = client_for(boss).get(f"/admin/webhooks/inboundevent/{failed_event.pk}/reprocess/")
    assert response.status_code == 302
    failed_event.refresh_from_db()
    assert failed_event.status != "failed"
    row = AuditLog.objects.get(action="webhook.inbound_reprocess")
    assert row.before["status"] == "failed" and row.after["status"] == failed_event.status


@pytest.fixture
def delivery():
    from tests.webhooks.factories import endpoint_for
    from webhooks.services import endpoint_test

    endpoint, _ = endpoint_for(VendorFactory())
    return endpoint_test(endpoint=endpoint)  # stored, not sent (no on-commit here)


def test_replaying_a_delivery_needs_the_role_and_is_audited(
    delivery, django_capture_on_commit_callbacks
):
    from tests.webhooks.factories import PUBLIC_URL

    with pytest.raises(DomainError):
        operator_delivery_replay(delivery_id=delivery.pk, actor=operator("finance"))
    page = client_for(operator("support")).get(
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/"
    )
    assert page.status_code == 200
    assert "Test event from TTelGo." in page.content.decode()  # the payload is shown
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(operator("admin")).get(
                f"/admin/webhooks/webhookdelivery/{delivery.pk}/replay/"
            )
        assert response.status_code == 302
        assert len(mock.calls) == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "succeeded"
    assert AuditLog.objects.filter(action="webhook.delivery_replay").count() == 1


def test_disabling_an_endpoint_is_audited(delivery):
    endpoint = delivery.endpoint
    with pytest.raises(DomainError):
        operator_endpoint_set_enabled(
            endpoint_id=endpoint.pk, actor=operator("support"), enabled=False
        )
    operator_endpoint_set_enabled(
        endpoint_id=endpoint.pk, actor=operator("admin"), enabled=False, reason="bouncing"
    )
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    row = AuditLog.objects.get(action="webhook.endpoint_disable")
    assert row.before["enabled"] is True and row.after["enabled"] is False


@pytest.fixture
def topup_payment(django_capture_on_commit_callbacks):
    from tests.payments.factories import paid_wallet_topup

    return paid_wallet_topup(django_capture_on_commit_callbacks, cents=2000)


def test_wallet_top_up_refunds_need_finance(topup_payment):
    with pytest.raises(DomainError) as exc:
        operator_payment_refund(
            payment_id=topup_payment.pk,
            actor=operator("support"),
            amount=Money(100, "USD"),
            reason="asked",
        )
    assert exc.value.code == "permission_denied"
    refund = operator_payment_refund(
        payment_id=topup_payment.pk,
        actor=operator("finance"),
        amount=Money(500, "USD"),
        reason="unused balance returned",
    )
    assert refund.amount == 500
    row = AuditLog.objects.get(action="payment.refund")
    assert row.before["refunded"] == {"amount": "0.00", "currency": "USD"}
    assert row.after["refunded"] == {"amount": "5.00", "currency": "USD"}
