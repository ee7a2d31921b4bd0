"""The race entries: for each money path, how to set one up, one request, and how many
requests of twenty may do what one does. `tests/core/test_money_races.py` runs one request
on a fresh set-up, then twenty at once on another, and compares what moved."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from unittest import mock

from django.utils import timezone
from rest_framework.test import APIClient

import billing.operator as billing_operator
import console.operator as console_operator
import orders.esim_refunds as orders_esim_refunds
import orders.operator as orders_operator
import reconciliation.services as reconciliation_services
import webhooks.operator as webhooks_operator
from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from esims.models import Bundle
from ledger.models import Purpose
from orders.auto_topup_models import AutoTopupRule, AutoTopupRun
from orders.esim_records import Esim, EsimRefund
from orders.fraud_models import FraudRule
from orders.models import Order
from payments.models import Payment
from sandbox.models import SandboxPaymentIntent
from sandbox.provider import SandboxProvider
from sandbox.stripe import event_build, event_deliver, intent_json, sandbox_intent_succeed
from tests.console.factories import operator
from tests.core.money_races import succeeded
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import (
    BUNDLE_CODE,
    TOPUP_CODE,
    bundles_create,
    customer_client,
    fund,
    vendor_client,
)
from ttelgo.models import User
from ttelgo.money import Money
from vendors.models import Vendor, VendorUser

N = 20


@dataclass(frozen=True)
class Race:
    """One money path: `prepare()` builds what it acts on; `attempt(ctx, i)` is request i
    (its own Idempotency-Key where the path takes one); `settle(ctx, results)` does what
    the caller would do next with what it was given (pay the PaymentIntents it got);
    `allowed(ctx, results)` is how many of the N requests may do what one does."""

    name: str
    rule: str
    prepare: Callable[[], Any]
    attempt: Callable[[Any, int], Any]
    allowed: Callable[[Any, list[Any]], int] = lambda ctx, results: 1
    settle: Callable[[Any, list[Any]], None] | None = None
    # One request alone moves something (a charge, a posting, an intent …), so the entry
    # proves something; False only where doing nothing is the point.
    moves: bool = True


def _user() -> User:
    user: User = UserFactory.create()
    return user


def _key(i: int) -> str:
    return f"race-{uuid.uuid4()}-{i}"


def _post(client: APIClient, path: str, body: dict[str, Any] | None = None, i: int = 0) -> Any:
    return client.post(path, body or {}, format="json", HTTP_IDEMPOTENCY_KEY=_key(i))


def _bundles() -> None:
    if not Bundle.objects.filter(code=BUNDLE_CODE).exists():
        bundles_create()


def _each_success(ctx: Any, results: list[Any]) -> int:
    return sum(succeeded(r) for r in results)


def _pay_every_vendor_intent(ctx: Any, results: list[Any]) -> None:
    """The vendor pays each PaymentIntent it was handed (once each)."""
    for pi in sorted({r.json()["payment_intent_id"] for r in results if succeeded(r)}):
        sandbox_intent_succeed(payment_intent_id=pi)


# --- objects the races act on ------------------------------------------------------------------


def _vendor(cents: int = 100_000, **fields: Any) -> Vendor:
    _bundles()
    vendor: Vendor = VendorFactory.create(billing_mode=Vendor.BillingMode.PREPAID, **fields)
    fund(vendor, cents)
    return vendor


def _vendor_order(client: APIClient, quantity: int = 3) -> Order:
    body = {"bundle_code": BUNDLE_CODE, "quantity": quantity}
    response = _post(client, "/api/v1/vendor/orders", body)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED, order.status
    return order


def _wallet_left_for(vendor: Vendor, spend: Callable[[], int], times: int) -> None:
    """Leave exactly `times` times what one `spend()` costs available in the wallet."""
    cost = spend()
    available = vendor_balance(vendor=vendor).available.amount
    vendor_adjustment(
        vendor=vendor,
        amount=Money(times * cost - available, vendor.currency),
        reason="race set-up",
        actor=None,
    )


def _customer_paid_order(quantity: int = 3) -> tuple[APIClient, Order]:
    _bundles()
    client = customer_client(_user())
    response = _post(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": quantity})
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED, order.status
    return client, order


def _held_order() -> Order:
    """A customer's paid order that fraud rules hold for review."""
    _bundles()
    FraudRule.objects.get_or_create(name="race: hold all", kind="quantity", limit=0)
    client = customer_client(_user())
    response = _post(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1})
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.IN_REVIEW, order.status
    FraudRule.objects.filter(name="race: hold all").delete()
    return order


def _postpaid_invoice() -> tuple[APIClient, Invoice]:
    _bundles()
    vendor: Vendor = VendorFactory.create(
        billing_mode=Vendor.BillingMode.POSTPAID, credit_limit=100_000
    )
    vendor_adjustment(vendor=vendor, amount=Money(-12_345, "USD"), reason="usage", actor=None)
    start = date(2026, 10, 1)
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE),
        period_start=start,
        period_end=start + timedelta(days=30),
        currency="USD",
        total=12_345,
        opening_balance=0,
        closing_balance=12_345,
        due_date=timezone.now().date() + timedelta(days=10),
    )
    return vendor_client(vendor), invoice


def _wallet_topup_paid() -> Payment:
    vendor = _vendor()
    client = vendor_client(vendor)
    response = _post(
        client, "/api/v1/vendor/wallet/topups", {"amount": {"amount": "50.00", "currency": "USD"}}
    )
    assert response.status_code == 201, response.content
    sandbox_intent_succeed(payment_intent_id=response.json()["payment_intent_id"])
    return Payment.objects.get(payment_intent_id=response.json()["payment_intent_id"])


def _test_wallet_drained() -> VendorUser:
    """A portal member whose test wallet spent 500.00 of its play money."""
    from billing.play_money import vendor_test_environment_open

    vendor = _vendor(status=Vendor.Status.ACTIVE)
    twin = vendor_test_environment_open(vendor=vendor)
    vendor_adjustment(vendor=twin, amount=Money(-50_000, twin.currency), reason="spent", actor=None)
    member = VendorUser.objects.create(vendor=vendor, user=_user(), role=VendorUser.Role.OWNER)
    member.vendor = twin  # the portal acts on the test environment in test mode
    return member


def _pending_test_payment() -> tuple[VendorUser, Payment]:
    from payments.services import payment_create_for_wallet_topup

    vendor = _vendor(status=Vendor.Status.ACTIVE)
    member = VendorUser.objects.create(vendor=vendor, user=_user(), role=VendorUser.Role.OWNER)
    return member, payment_create_for_wallet_topup(vendor=vendor, amount=Money(2_500, "USD"))


def _auto_topup_esim(customer: bool) -> Esim:
    if customer:
        _bundles()
        user = _user()
        client = customer_client(user)
        response = _post(
            client,
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1, "save_card": True},
        )
        assert response.status_code == 201, response.content
        sandbox_intent_succeed(payment_intent_id=response.json()["payment"]["payment_intent_id"])
        esim = Esim.objects.get(order_id=response.json()["id"])
        AutoTopupRule.objects.create(
            customer=user, esim=esim, bundle_code=TOPUP_CODE, below_percent=20
        )
        return esim
    vendor = _vendor()
    esim = Esim.objects.get(order=_vendor_order(vendor_client(vendor), quantity=1))
    AutoTopupRule.objects.create(vendor=vendor, esim=esim, bundle_code=TOPUP_CODE, below_percent=20)
    return esim


ESIMGO_KEY = "race-esimgo-key"  # a test value, not a secret (the test sets it)
MB = 1024 * 1024


def _usage_alert(esim: Esim, i: int) -> Any:
    """eSIM Go's signed usage alert: request i reports 100 - i MB of 1,000 left, so each
    is another report of the same crossing below the rule's 20 %."""
    body = json.dumps(
        {
            "iccid": esim.iccid,
            "alertType": "Utilisation",
            "bundle": {
                "id": "b1",
                "reference": "r1",
                "name": BUNDLE_CODE,
                "initialQuantity": 1000 * MB,
                "remainingQuantity": (100 - i) * MB,
                "unlimited": False,
            },
        }
    ).encode()
    return APIClient().post(
        "/api/v1/webhooks/esimgo",
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE_SHA256=hmac.new(ESIMGO_KEY.encode(), body, hashlib.sha256).hexdigest(),
    )


def _pending_run(customer: bool) -> AutoTopupRun:
    esim = _auto_topup_esim(customer)
    rule = AutoTopupRule.objects.get(esim=esim)
    return AutoTopupRun.objects.create(rule=rule, esim=esim, trigger="data:1:20")


def _captured_event() -> dict[str, Any]:
    """A customer's order whose card payment succeeded at the gateway; Stripe's event for
    it, not yet delivered."""
    _bundles()
    client = customer_client(_user())
    response = _post(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1})
    assert response.status_code == 201, response.content
    pi = SandboxPaymentIntent.objects.get(pk=response.json()["payment"]["payment_intent_id"])
    SandboxPaymentIntent.objects.filter(pk=pi.pk).update(status="succeeded", latest_charge="ch_r")
    pi.refresh_from_db()
    return event_build(type="payment_intent.succeeded", obj=intent_json(pi))


def _received_event() -> int:
    from webhooks.models import InboundEvent

    event = _captured_event()
    assert event_deliver(event) == 200
    return InboundEvent.objects.get(event_id=event["id"]).pk


def _refund_finding() -> int:
    from reconciliation.services import reconciliation_run

    _, order = _customer_paid_order(quantity=1)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    finding = reconciliation_run().findings.get(code="refund_missing", order_id=order.pk)
    return int(finding.pk)


def _esim_refund_in_review() -> EsimRefund:
    client, order = _customer_paid_order()
    Order.objects.filter(pk=order.pk).update(disputed_at=timezone.now())
    esim = Esim.objects.filter(order=order).first()
    assert esim is not None
    response = _post(client, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "race"})
    assert response.status_code == 201, response.content
    Order.objects.filter(pk=order.pk).update(disputed_at=None)
    return EsimRefund.objects.get(esim=esim)


# --- set-ups and requests, per path -------------------------------------------------------------


def _customer() -> APIClient:
    _bundles()
    return customer_client(_user())


def _b2c_order(client: APIClient, i: int) -> Any:
    return _post(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, i)


def _vendor_for_five_orders() -> APIClient:
    vendor = _vendor()
    client = vendor_client(vendor)
    _wallet_left_for(vendor, lambda: _vendor_order(client, quantity=1).total, 5)
    return client


def _b2b_order(client: APIClient, i: int) -> Any:
    return _post(client, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, i)


def _customer_esim() -> tuple[APIClient, str]:
    client, order = _customer_paid_order()
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    return client, esim.iccid


def _b2c_topup(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return _post(client, f"/api/v1/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE}, i)


def _b2c_refund(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return _post(client, f"/api/v1/esims/{iccid}/refund", {"reason": "not needed"}, i)


def _vendor_esim(topups: int | None = None) -> tuple[APIClient, str]:
    vendor = _vendor()
    client = vendor_client(vendor)
    order = _vendor_order(client)
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    if topups is not None:
        _wallet_left_for(vendor, lambda: _topup_total((client, esim.iccid)), topups)
    return client, esim.iccid


def _b2b_topup(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return _post(client, f"/api/v1/vendor/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE}, i)


def _topup_total(ctx: tuple[APIClient, str]) -> int:
    response = _b2b_topup(ctx, 0)
    assert response.status_code == 201, response.content
    return int(Order.objects.get(pk=response.json()["id"]).total)


def _vendor_esim_for_five_topups() -> tuple[APIClient, str]:
    return _vendor_esim(topups=5)


def _b2b_refund(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return _post(client, f"/api/v1/vendor/esims/{iccid}/refund", {"reason": "not needed"}, i)


def _wallet_topup(client: APIClient, i: int) -> Any:
    body = {"amount": {"amount": "25.00", "currency": "USD"}}
    return _post(client, "/api/v1/vendor/wallet/topups", body, i)


def _invoice_pay(ctx: tuple[APIClient, Invoice], i: int) -> Any:
    client, invoice = ctx
    return _post(client, f"/api/v1/vendor/invoices/{invoice.pk}/pay", None, i)


def _customer_intent() -> str:
    response = _b2c_order(_customer(), 0)
    assert response.status_code == 201, response.content
    return str(response.json()["payment"]["payment_intent_id"])


def _operators_and(make: Callable[[], Any], role: str = "admin") -> Callable[[], Any]:
    return lambda: (make(), [operator(role) for _ in range(N)])


def _customer_order_paid() -> Order:
    return _customer_paid_order()[1]


def _vendor_order_bought() -> Order:
    return _vendor_order(vendor_client(_vendor()))


def _order_stuck_paid() -> Order:
    order = _held_order()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    return order


def _operator_refund(ctx: tuple[Order, list[Any]], i: int) -> Any:
    from orders.operator import operator_order_refund

    order, ops = ctx
    return operator_order_refund(order_id=order.pk, actor=ops[i], amount=None, reason="race")


def _open_invoice() -> Invoice:
    return _postpaid_invoice()[1]


def _member_play_money(member: VendorUser, i: int) -> Any:
    from portal.order_actions import member_play_money_refill

    return member_play_money_refill(member=member)


def _member_test_card(ctx: tuple[VendorUser, Payment], i: int) -> Any:
    from portal.billing_actions import member_test_payment_confirm

    member, payment = ctx
    return member_test_payment_confirm(member=member, payment_id=payment.pk, succeed=True)


def _member_simulated_topup(member: VendorUser, i: int) -> Any:
    from portal.order_actions import member_simulate_wallet_topup

    return member_simulate_wallet_topup(member=member, amount=Money(10_000, "USD"), succeed=True)


def _member_simulated_failure(member: VendorUser, i: int) -> Any:
    from portal.order_actions import member_simulate_provisioning_failure

    return member_simulate_provisioning_failure(member=member, bundle_code=BUNDLE_CODE)


def _esim_expiring() -> Esim:
    """A vendor's eSIM expiring tomorrow, under a rule that tops up 3 days before."""
    vendor = _vendor()
    esim = Esim.objects.get(order=_vendor_order(vendor_client(vendor), quantity=1))
    AutoTopupRule.objects.create(vendor=vendor, esim=esim, bundle_code=TOPUP_CODE, expiry_days=3)
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(days=1))
    return esim


def _expiry_sweep(esim: Esim, i: int) -> Any:
    from orders.auto_topup_triggers import auto_topups_expiry_check

    return auto_topups_expiry_check()


def _order_delivered_late() -> Order:
    """A vendor's order the delivery guarantee failed while the provider was still
    processing it; the provider delivered its three eSIMs since."""
    order = _vendor_order(vendor_client(_vendor()))
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED, revoke_on_arrival=True)
    return order


def _late_deliveries_sweep(order: Order, i: int) -> Any:
    from orders.provisioning import orders_late_deliveries_revoke

    return orders_late_deliveries_revoke()


def _order_stuck_paid_long() -> Order:
    """A paid order nobody has taken to provisioning for five minutes."""
    order = _held_order()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, updated_at=timezone.now() - timedelta(minutes=5)
    )
    return order


def _redrive_sweep(order: Order, i: int) -> Any:
    from orders.provisioning import orders_redrive_stuck

    return orders_redrive_stuck(older_than=timedelta(seconds=60))


def _order_not_delivered_in_time() -> Order:
    """A vendor's order whose one attempt met a provider outage two hours ago."""
    from esims.providers import ProviderUnavailable
    from orders.models import OrderEvent
    from orders.provisioning import order_provision_attempt
    from orders.services import order_create_b2b

    vendor = _vendor()
    with mock.patch("orders.services.order_provisioning_enqueue"):  # the worker is away
        order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    with mock.patch.object(
        SandboxProvider, "create_order", side_effect=ProviderUnavailable("503", status=503)
    ):
        assert order_provision_attempt(order_id=order.pk).result == "retry"
    OrderEvent.objects.filter(order=order).update(created_at=timezone.now() - timedelta(hours=2))
    Order.objects.filter(pk=order.pk).update(provisioning_lease_until=None)
    return order


def _guarantee_sweep(order: Order, i: int) -> Any:
    from orders.provisioning import orders_delivery_guarantee

    return orders_delivery_guarantee()


def _provider_refunds_due() -> Order:
    """A late delivery taken back: the provider owes its three eSIMs' cost back."""
    from orders.provisioning import orders_late_deliveries_revoke

    order = _order_delivered_late()
    assert orders_late_deliveries_revoke() == [order.pk]
    return order


def _provider_refunds_sweep(order: Order, i: int) -> Any:
    from orders.provider_refunds import provider_refunds_collect

    return provider_refunds_collect()


class _Crash(BaseException):
    """The process dying mid-way: nothing of ours catches it."""


def _esim_refund_cut_short() -> EsimRefund:
    """A card refund of an eSIM whose process died after the gateway refunded, its claim
    lapsed: the resume job finishes it."""
    from orders.esim_refunds import CLAIM_SECONDS, esim_refund_request

    _, order = _customer_paid_order()
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    try:
        with mock.patch("payments.services._refund_record", side_effect=_Crash):
            esim_refund_request(esim=esim, requested_by="customer", reason="race")
    except _Crash:
        pass
    refund = EsimRefund.objects.get(esim=esim)
    EsimRefund.objects.filter(pk=refund.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=CLAIM_SECONDS + 1)
    )
    return refund


def _resume_sweep(refund: EsimRefund, i: int) -> Any:
    from orders.esim_refunds import esim_refunds_resume

    return esim_refunds_resume()


def _auto_topup_execute(run: AutoTopupRun, i: int) -> Any:
    from orders.auto_topups import auto_topup_execute

    return auto_topup_execute(run_id=run.pk)


def _customer_run() -> AutoTopupRun:
    return _pending_run(customer=True)


def _vendor_auto_esim() -> Esim:
    return _auto_topup_esim(customer=False)


# --- the entries --------------------------------------------------------------------------------

RACES: dict[str, Race] = {
    r.name: r
    for r in [
        # The API
        Race(
            "B2C order",
            "each request is another order: 20 orders and intents, nothing charged unpaid",
            prepare=_customer,
            attempt=_b2c_order,
            allowed=_each_success,
        ),
        Race(
            "B2B order",
            "the wallet holds five orders' price: exactly 5 orders are bought and charged",
            prepare=_vendor_for_five_orders,
            attempt=_b2b_order,
            allowed=lambda ctx, results: 5,
        ),
        Race(
            "B2C top-up",
            "each request is another top-up order: 20 intents, nothing charged unpaid",
            prepare=_customer_esim,
            attempt=_b2c_topup,
            allowed=_each_success,
        ),
        Race(
            "B2B top-up",
            "the wallet holds five top-ups' price: exactly 5 bundles are bought and charged",
            prepare=_vendor_esim_for_five_topups,
            attempt=_b2b_topup,
            allowed=lambda ctx, results: 5,
        ),
        Race(
            "B2C eSIM refund",
            "one eSIM of three: revoked once, its share refunded to the card once",
            prepare=_customer_esim,
            attempt=_b2c_refund,
        ),
        Race(
            "B2B eSIM refund",
            "one eSIM of three: revoked once, its share credited to the wallet once",
            prepare=_vendor_esim,
            attempt=_b2b_refund,
        ),
        Race(
            "wallet top-up",
            "each request is another top-up the vendor asked for: 20 intents, each paid once",
            prepare=lambda: vendor_client(_vendor()),
            attempt=_wallet_topup,
            allowed=_each_success,
            settle=_pay_every_vendor_intent,
        ),
        Race(
            "invoice payment",
            "one invoice, paid with every intent handed out: charged its due once",
            prepare=_postpaid_invoice,
            attempt=_invoice_pay,
            settle=_pay_every_vendor_intent,
        ),
        Race(
            "sandbox payment succeeds",
            "one intent paid 20 times: one charge, one order provisioned",
            prepare=_customer_intent,
            attempt=lambda pi, i: APIClient().post(f"/api/v1/sandbox/payment_intents/{pi}/succeed"),
        ),
        Race(
            "Stripe webhook",
            "one payment_intent.succeeded event delivered 20 times: captured once",
            prepare=_captured_event,
            attempt=lambda event, i: event_deliver(event),
        ),
        Race(
            "eSIM Go usage callback: auto top-up",
            "20 alerts (100 MB down to 81 MB left of 1,000) of one crossing: one top-up bought",
            prepare=_vendor_auto_esim,
            attempt=_usage_alert,
        ),
        Race(
            "auto top-up run (customer card)",
            "one firing executed 20 times: one top-up order, the card charged once",
            prepare=_customer_run,
            attempt=_auto_topup_execute,
        ),
        # Beat jobs that buy or revoke, run twice at once (a slow run overlapping the next,
        # or an operator's "run now" in the console)
        Race(
            "beat: auto top-ups at expiry",
            "an eSIM expiring within its rule's days, 20 sweeps at once: one top-up bought",
            prepare=_esim_expiring,
            attempt=_expiry_sweep,
        ),
        Race(
            "beat: late deliveries revoked",
            "an order failed before the provider delivered it, 20 sweeps: each eSIM revoked once",
            prepare=_order_delivered_late,
            attempt=_late_deliveries_sweep,
        ),
        Race(
            "beat: stuck orders re-driven",
            "a paid order left untouched, 20 sweeps at once: bought once",
            prepare=_order_stuck_paid_long,
            attempt=_redrive_sweep,
        ),
        Race(
            "beat: delivery guarantee",
            "an order not delivered in 60 minutes, 20 sweeps at once: its funds released once",
            prepare=_order_not_delivered_in_time,
            attempt=_guarantee_sweep,
        ),
        Race(
            "beat: provider refunds collected",
            "three provider refunds arrived, 20 sweeps at once: each booked once",
            prepare=_provider_refunds_due,
            attempt=_provider_refunds_sweep,
        ),
        Race(
            "beat: eSIM refunds resumed",
            "a card refund cut short after the gateway refunded, 20 sweeps: finished once",
            prepare=_esim_refund_cut_short,
            attempt=_resume_sweep,
        ),
        # Operators
        Race(
            "operator: review approve",
            "a held paid order approved by 20 operators: provisioned (bought) once",
            prepare=_operators_and(_held_order),
            attempt=lambda ctx, i: orders_operator.operator_review_approve(
                order_id=ctx[0].pk, actor=ctx[1][i], note="race"
            ),
        ),
        Race(
            "operator: review reject",
            "a held paid order rejected by 20 operators: refunded once",
            prepare=_operators_and(_held_order),
            attempt=lambda ctx, i: orders_operator.operator_review_reject(
                order_id=ctx[0].pk, actor=ctx[1][i], note="race"
            ),
        ),
        Race(
            "operator: order refund (B2C)",
            "a paid order refunded in full by 20 operators: revoked and refunded once",
            prepare=_operators_and(_customer_order_paid),
            attempt=_operator_refund,
        ),
        Race(
            "operator: order refund (B2B)",
            "a vendor's order refunded in full by 20 operators: revoked and credited once",
            prepare=_operators_and(_vendor_order_bought),
            attempt=_operator_refund,
        ),
        Race(
            "operator: order redrive",
            "a paid order stuck before provisioning, re-driven 20 times: bought once",
            prepare=_operators_and(_order_stuck_paid),
            attempt=lambda ctx, i: orders_operator.operator_order_redrive(
                order_id=ctx[0].pk, actor=ctx[1][i], reason="race"
            ),
        ),
        Race(
            "operator: invoice settle",
            "one invoice recorded as paid by 20 finance operators: settled once",
            prepare=_operators_and(_open_invoice, "finance"),
            attempt=lambda ctx, i: billing_operator.operator_invoice_settle(
                invoice_id=ctx[0].pk, actor=ctx[1][i]
            ),
        ),
        Race(
            "operator: wallet adjustment",
            "each adjustment is another deliberate credit: 20 credits of 1.00",
            prepare=_operators_and(_vendor, "finance"),
            attempt=lambda ctx, i: billing_operator.operator_vendor_adjust(
                vendor_id=ctx[0].pk, actor=ctx[1][i], amount=Money(100, "USD"), reason="race"
            ),
            allowed=_each_success,
        ),
        Race(
            "operator: wallet top-up refund",
            "a paid wallet top-up refunded in full by 20 operators: refunded once",
            prepare=_operators_and(_wallet_topup_paid, "finance"),
            attempt=lambda ctx, i: console_operator.operator_payment_refund(
                payment_id=ctx[0].pk, actor=ctx[1][i], amount=None, reason="race"
            ),
        ),
        Race(
            "operator: eSIM refund approve",
            "an eSIM refund held for review approved by 20 operators: revoked, refunded once",
            prepare=_operators_and(_esim_refund_in_review),
            attempt=lambda ctx, i: orders_esim_refunds.operator_esim_refund_approve(
                refund_id=ctx[0].pk, actor=ctx[1][i], note="race"
            ),
        ),
        Race(
            "operator: inbound event reprocess",
            "a Stripe event already applied, reprocessed 20 times: nothing moves again",
            prepare=_operators_and(_received_event),
            attempt=lambda ctx, i: webhooks_operator.operator_inbound_reprocess(
                event_id=ctx[0], actor=ctx[1][i]
            ),
            moves=False,
        ),
        Race(
            "operator: reconciliation refund",
            "a failed paid order's finding fixed by 20 operators: refunded once",
            prepare=_operators_and(_refund_finding, "finance"),
            attempt=lambda ctx, i: reconciliation_services.finding_fix(
                finding_id=ctx[0], actor=ctx[1][i], action="refund", note="race"
            ),
        ),
        # The portal (its views call these member services, and nothing else that moves money)
        Race(
            "portal: play money refill",
            "a test wallet below its play money, refilled 20 times: back up to 1,000.00 once",
            prepare=_test_wallet_drained,
            attempt=_member_play_money,
        ),
        Race(
            "portal: simulated wallet top-up",
            "each click is another paid test top-up: 20 intents, each charged and credited once",
            prepare=_test_wallet_drained,
            attempt=_member_simulated_topup,
            allowed=_each_success,
        ),
        Race(
            "portal: simulated provisioning failure",
            "each click is another test order the provider refuses: 20 charged, 20 released",
            prepare=_test_wallet_drained,
            attempt=_member_simulated_failure,
            allowed=_each_success,
        ),
        Race(
            "portal: test card pays a payment",
            "one pending test payment confirmed 20 times: charged and credited once",
            prepare=_pending_test_payment,
            attempt=_member_test_card,
        ),
    ]
}
