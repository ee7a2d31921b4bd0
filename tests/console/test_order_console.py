"""Order actions in the console by role: refunds (support up to the limit, finance any),
cancels, re-drives; each one audited."""

from __future__ import annotations

import pytest
from django.test import Client

from fulfilment.operator import operator_order_refund
from orders.models import Order
from orders.operator import operator_order_cancel, operator_order_redrive
from payments.models import Payment, Refund
from tests.console.factories import b2c_order, operator, pay
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


def denied(fn, **kw) -> None:
    with pytest.raises(DomainError) as exc:
        fn(**kw)
    assert exc.value.code == "permission_denied"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def completed_order(bundles, django_capture_on_commit_callbacks):
    order = b2c_order(quantity=2)  # 2 x 4.50 USD
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    return order


def test_support_refunds_small_amounts_only(completed_order, settings):
    settings.SUPPORT_REFUND_LIMIT = 500
    support = operator("support")
    denied(
        operator_order_refund,
        order_id=completed_order.pk,
        actor=support,
        amount=None,  # the full 9.00 is over the limit
        reason="customer asked",
    )
    refund = operator_order_refund(
        order_id=completed_order.pk, actor=support, amount=Money(450, "USD"), reason="one unused"
    )
    assert refund.amount == 450
    row = AuditLog.objects.get(action="order.refund")
    assert row.actor == support
    assert row.before["refunded"] == {"amount": "0.00", "currency": "USD"}
    assert row.after["refunded"] == {"amount": "4.50", "currency": "USD"}


def test_support_cannot_get_past_its_limit_by_splitting_a_refund(completed_order, settings):
    settings.SUPPORT_REFUND_LIMIT = 500
    support = operator("support")
    operator_order_refund(
        order_id=completed_order.pk, actor=support, amount=Money(300, "USD"), reason="part 1"
    )
    denied(
        operator_order_refund,
        order_id=completed_order.pk,
        actor=support,
        amount=Money(300, "USD"),  # 6.00 of the order in all: over 5.00
        reason="part 2",
    )
    operator_order_refund(
        order_id=completed_order.pk, actor=support, amount=Money(200, "USD"), reason="part 2"
    )
    payment = Payment.objects.get(order=completed_order)
    assert payment.refunded_amount == 500


def test_finance_refunds_in_full_and_the_order_is_refunded(
    completed_order, settings, django_capture_on_commit_callbacks
):
    settings.SUPPORT_REFUND_LIMIT = 500
    client = admin_client(operator("finance"))
    url = f"/admin/orders/order/{completed_order.pk}/refund/"
    form = client.get(url).content.decode()
    assert "Amount in USD" in form and "not cents" in form
    # The first click asks; nothing moves until the operator confirms.
    asked = client.post(url, {"amount": "", "reason": "outage"})
    assert asked.status_code == 200
    assert "Refund everything that is left of order" in asked.content.decode()
    assert not Refund.objects.exists()
    # The order moves once the refund has committed (payments tell orders by the outbox).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"amount": "", "reason": "outage", "_confirmed": "1"})
    assert response.status_code == 302
    completed_order.refresh_from_db()
    assert completed_order.status == Order.Status.REFUNDED
    payment = Payment.objects.get(order=completed_order)
    assert payment.refunded_amount == payment.amount
    assert Refund.objects.filter(payment=payment).count() == 1
    assert AuditLog.objects.filter(action="order.refund").count() == 1


def test_refund_above_what_is_left_is_refused_on_the_form(completed_order):
    response = admin_client(operator("finance")).post(
        f"/admin/orders/order/{completed_order.pk}/refund/",
        {"amount": "99.00", "reason": "x", "_confirmed": "1"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "The refund must be between 0 and 9.00 USD." in body  # words, not an API code
    assert "(validation_error)" not in body
    assert not Refund.objects.exists()


def test_support_cancels_an_unpaid_order_and_finance_cannot(bundles):
    order = b2c_order()
    denied(operator_order_cancel, order_id=order.pk, actor=operator("finance"))
    operator_order_cancel(order_id=order.pk, actor=operator("support"), reason="duplicate")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert AuditLog.objects.get(action="order.cancel").after["status"] == "cancelled"


def test_support_redrives_a_stuck_order(bundles, django_capture_on_commit_callbacks):
    order = b2c_order()
    from orders.state import order_transition

    order_transition(order_id=order.pk, to="paid")  # stuck: payment recorded, never moved on
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_redrive(order_id=order.pk, actor=operator("support"), reason="lost task")
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    row = AuditLog.objects.get(action="order.redrive")
    assert row.before["status"] == "paid" and row.reason == "lost task"


def test_order_page_shows_only_the_actions_of_the_role(completed_order):
    support_page = admin_client(operator("support")).get(
        f"/admin/orders/order/{completed_order.pk}/change/"
    )
    assert support_page.status_code == 200
    body = support_page.content.decode()
    assert f"/admin/orders/order/{completed_order.pk}/refund/" in body
    assert f"/admin/orders/order/{completed_order.pk}/approve/" not in body
    # the page carries the payment and the delivered eSIMs
    assert Payment.objects.get(order=completed_order).payment_intent_id in body
    for iccid in completed_order.esims.values_list("iccid", flat=True):  # type: ignore[attr-defined]
        assert iccid in body


def test_every_console_page_opens_for_every_role(completed_order):
    pages = [
        "/admin/",
        "/admin/orders/order/",
        f"/admin/orders/order/{completed_order.pk}/change/",
        "/admin/orders/orderreview/",
        "/admin/orders/fraudrule/",
        "/admin/vendors/vendor/",
        "/admin/reconciliation/reconciliationrun/",
        "/admin/reconciliation/reconciliationfinding/",
        "/admin/ttelgo/auditlog/",
        "/admin/fulfilment/esim/",
        "/admin/webhooks/inboundevent/",
        "/admin/webhooks/webhookdelivery/",
        "/admin/payments/payment/",
        "/admin/billing/invoice/",
    ]
    for role in ("support", "finance", "admin"):
        client = admin_client(operator(role))
        for page in pages:
            assert client.get(page).status_code == 200, (role, page)


def test_the_sidebar_groups_the_console_and_counts_waiting_work(completed_order):
    Order.objects.filter(pk=completed_order.pk).update(status=Order.Status.IN_REVIEW)
    body = admin_client(operator("support")).get("/admin/").content.decode()
    for title in ("Review queue", "Reconciliation", "Inbound events", "Audit log"):
        assert title in body
    assert "/admin/ttelgo/user/" not in body  # support may not see users
    assert "/admin/ttelgo/user/" in admin_client(operator("admin")).get("/admin/").content.decode()
    from console.dashboard import badge_open_findings, badge_open_reviews

    assert badge_open_reviews(None) == "1"  # type: ignore[arg-type]
    assert badge_open_findings(None) == ""  # type: ignore[arg-type]


def test_order_page_offers_only_the_actions_the_state_allows(completed_order):
    client = admin_client(operator("admin"))
    base = f"/admin/orders/order/{completed_order.pk}"
    body = client.get(f"{base}/change/").content.decode()
    assert f"{base}/refund/" in body
    for path in ("cancel", "redrive", "approve", "reject"):
        assert f"{base}/{path}/" not in body, path
    assert client.get(f"{base}/cancel/").status_code == 403  # and the URL refuses too
    Order.objects.filter(pk=completed_order.pk).update(status=Order.Status.IN_REVIEW)
    body = client.get(f"{base}/change/").content.decode()
    assert f"{base}/approve/" in body and f"{base}/reject/" in body


def test_the_timeline_names_the_operator_and_the_amount_of_a_partial_refund(
    completed_order, django_capture_on_commit_callbacks
):
    finance = operator("finance")
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(
            order_id=completed_order.pk,
            actor=finance,
            amount=Money(200, "USD"),
            reason="one day of outage",
        )
    event = completed_order.events.order_by("id").last()
    assert (event.from_status, event.to_status) == ("completed", "completed")
    assert event.actor == finance and event.actor_label == str(finance)
    assert event.reason == "partial refund of 2.00 USD: one day of outage"


def test_order_search_finds_an_order_by_iccid_or_payment_intent(completed_order):
    client = admin_client(operator("support"))
    iccid = completed_order.esims.first().iccid
    intent = Payment.objects.get(order=completed_order).payment_intent_id
    for term in (iccid, intent):
        page = client.get("/admin/orders/order/", {"q": term}).content.decode()
        assert f"/admin/orders/order/{completed_order.pk}/change/" in page, term
    page = client.get("/admin/orders/order/", {"q": "8944500000000009999"}).content.decode()
    assert f"/admin/orders/order/{completed_order.pk}/change/" not in page


def test_the_refund_form_shows_what_is_left_to_refund(completed_order):
    """The operator sees what a refund may still give back, before typing an amount."""
    finance = operator("finance")
    url = f"/admin/orders/order/{completed_order.pk}/refund/"
    form = admin_client(finance).get(url).content.decode()
    assert '<dt class="font-semibold">Left to refund</dt><dd>9.00 USD</dd>' in form
    operator_order_refund(
        order_id=completed_order.pk, actor=finance, amount=Money(250, "USD"), reason="slow"
    )
    form = admin_client(finance).get(url).content.decode()
    assert '<dt class="font-semibold">Left to refund</dt><dd>6.50 USD</dd>' in form
