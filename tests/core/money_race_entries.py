"""The race entries: for each money path, how to set one up, one request, and how many
requests of twenty may do what one does. `tests/core/test_money_races.py` runs one request
on a fresh set-up, then twenty at once on another, and compares what moved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest import mock

from django.utils import timezone
from rest_framework.test import APIClient

import billing.operator as billing_operator
import console.operator as console_operator
import fulfilment.provider_refunds as provider_refunds
import fulfilment.refunds as orders_esim_refunds
import fulfilment.stock.operator as stock_operator
import orders.operator as orders_operator
import reconciliation.services as reconciliation_services
import webhooks.operator as webhooks_operator
from billing.models import Invoice
from catalogue.models import Bundle
from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.models import Esim, EsimRefund
from fulfilment.stock.models import StockSetting
from iot.models import IotSim
from iot.services import topup_price as iot_topup_price
from ledger.services import stock_purchase_record
from orders.models import Order
from payments.models import Payment
from sandbox.provider import SandboxProvider
from sandbox.stripe import event_deliver, sandbox_intent_succeed
from tests.console.factories import operator
from tests.core.money_race_setups import (
    auto_topup_esim,
    bundles_ensure,
    captured_event,
    customer_paid_order,
    esim_refund_in_review,
    held_order,
    new_user,
    pending_run,
    pending_test_payment,
    post_keyed,
    postpaid_invoice,
    prepaid_vendor,
    received_event,
    refund_finding,
    test_wallet_drained,
    usage_alert,
    vendor_order_bought_via_api,
    wallet_left_for,
    wallet_topup_paid,
)
from tests.core.money_races import succeeded
from tests.fulfilment.stock_helpers import stock_esims
from tests.orders.factories import (
    BUNDLE_CODE,
    TOPUP_CODE,
    customer_client,
    vendor_client,
)
from ttelgo.money import Money
from vendors.models import VendorUser

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


def _each_success(ctx: Any, results: list[Any]) -> int:
    return sum(succeeded(r) for r in results)


def _pay_every_vendor_intent(ctx: Any, results: list[Any]) -> None:
    """The vendor pays each PaymentIntent it was handed (once each)."""
    for pi in sorted({r.json()["payment_intent_id"] for r in results if succeeded(r)}):
        sandbox_intent_succeed(payment_intent_id=pi)


# --- set-ups and requests, per path -------------------------------------------------------------


def _customer() -> APIClient:
    bundles_ensure()
    return customer_client(new_user())


def _b2c_order(client: APIClient, i: int) -> Any:
    return post_keyed(client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, i)


def _vendor_for_five_orders() -> APIClient:
    vendor = prepaid_vendor()
    client = vendor_client(vendor)
    wallet_left_for(vendor, lambda: vendor_order_bought_via_api(client, quantity=1).total, 5)
    return client


def _b2b_order(client: APIClient, i: int) -> Any:
    return post_keyed(
        client, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, i
    )


def _vendor_for_five_stocked_orders() -> APIClient:
    """As `_vendor_for_five_orders`, with the bundle in ready stock (more than twenty
    eSIMs, their cost booked to inventory): every order the wallet pays for is delivered
    from stock in its own request, none bought from the provider."""
    client = _vendor_for_five_orders()
    bundle = Bundle.objects.get(code=BUNDLE_CODE)
    StockSetting.objects.get_or_create(
        bundle=bundle, livemode=True, defaults={"floor": 1, "target": 40, "capital_cap": 10**9}
    )
    rows = stock_esims(N + 5, cost=bundle.cost_amount)
    stock_purchase_record(
        cost=Money(bundle.cost_amount * len(rows), bundle.currency),
        reference=f"race-stock:{rows[0].iccid}",
    )
    return client


def _delivered_from_stock(ctx: APIClient, results: list[Any]) -> None:
    """Every order placed was answered completed, from stock (the entry's premise)."""
    placed = [r for r in results if succeeded(r)]
    assert placed and all(r.json()["status"] == "completed" for r in placed), placed


def _customer_esim() -> tuple[APIClient, str]:
    client, order = customer_paid_order()
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    return client, esim.iccid


def _b2c_topup(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return post_keyed(client, f"/api/v1/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE}, i)


def _b2c_refund(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return post_keyed(client, f"/api/v1/esims/{iccid}/refund", {"reason": "not needed"}, i)


def _vendor_esim(topups: int | None = None) -> tuple[APIClient, str]:
    vendor = prepaid_vendor()
    client = vendor_client(vendor)
    order = vendor_order_bought_via_api(client)
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    if topups is not None:
        wallet_left_for(vendor, lambda: _topup_total((client, esim.iccid)), topups)
    return client, esim.iccid


def _b2b_topup(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return post_keyed(
        client, f"/api/v1/vendor/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE}, i
    )


def _topup_total(ctx: tuple[APIClient, str]) -> int:
    response = _b2b_topup(ctx, 0)
    assert response.status_code == 201, response.content
    return int(Order.objects.get(pk=response.json()["id"]).total)


def _vendor_esim_for_five_topups() -> tuple[APIClient, str]:
    return _vendor_esim(topups=5)


def _iot_sim_for_five_topups() -> tuple[APIClient, str]:
    """A vendor's IoT SIM (the simulated 1NCE fleet) and a wallet for five top-ups."""
    vendor = prepaid_vendor()
    client = vendor_client(vendor)
    sim = IotSim.objects.create(
        vendor=vendor,
        livemode=True,
        provider="sandbox",
        iccid=f"8988299{vendor.pk:012d}",
        data_left_bytes=0,
        data_total_bytes=500 * 1024 * 1024,
    )
    price = iot_topup_price(vendor=vendor)[0].amount
    wallet_left_for(vendor, lambda: price, 5)
    return client, sim.iccid


def _iot_topup(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return post_keyed(client, f"/api/v1/vendor/iot/sims/{iccid}/topups", {}, i)


def _b2b_refund(ctx: tuple[APIClient, str], i: int) -> Any:
    client, iccid = ctx
    return post_keyed(client, f"/api/v1/vendor/esims/{iccid}/refund", {"reason": "not needed"}, i)


def _wallet_topup(client: APIClient, i: int) -> Any:
    body = {"amount": {"amount": "25.00", "currency": "USD"}}
    return post_keyed(client, "/api/v1/vendor/wallet/topups", body, i)


def _parent_with_five_transfers() -> tuple[APIClient, int]:
    """A parent whose wallet holds exactly five transfers of 10.00, and a sub-vendor."""
    parent = prepaid_vendor(cents=5 * 1_000)
    client = vendor_client(parent)
    response = post_keyed(client, "/api/v1/vendor/sub-vendors", {"name": "Race sub"}, 0)
    assert response.status_code == 201, response.content
    return client, int(response.json()["id"])


def _transfer(ctx: tuple[APIClient, int], i: int) -> Any:
    client, sub_id = ctx
    body = {"amount": {"amount": "10.00", "currency": "USD"}}
    return post_keyed(client, f"/api/v1/vendor/sub-vendors/{sub_id}/transfers", body, i)


def _transfer_one_key(ctx: tuple[APIClient, int], i: int) -> Any:
    client, sub_id = ctx
    body = {"amount": {"amount": "10.00", "currency": "USD"}}
    return client.post(
        f"/api/v1/vendor/sub-vendors/{sub_id}/transfers",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"race-transfer-{sub_id}",
    )


def _invoice_pay(ctx: tuple[APIClient, Invoice], i: int) -> Any:
    client, invoice = ctx
    return post_keyed(client, f"/api/v1/vendor/invoices/{invoice.pk}/pay", None, i)


def _customer_intent() -> str:
    response = _b2c_order(_customer(), 0)
    assert response.status_code == 201, response.content
    return str(response.json()["payment"]["payment_intent_id"])


def _operators_and(make: Callable[[], Any], role: str = "admin") -> Callable[[], Any]:
    return lambda: (make(), [operator(role) for _ in range(N)])


def _customer_order_paid() -> Order:
    return customer_paid_order()[1]


def _vendor_order_bought() -> Order:
    return vendor_order_bought_via_api(vendor_client(prepaid_vendor()))


def _order_stuck_paid() -> Order:
    order = held_order()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    return order


def _operator_refund(ctx: tuple[Order, list[Any]], i: int) -> Any:
    from fulfilment.operator import operator_order_refund

    order, ops = ctx
    return operator_order_refund(order_id=order.pk, actor=ops[i], amount=None, reason="race")


def _open_invoice() -> Invoice:
    return postpaid_invoice()[1]


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


def _portal_member() -> VendorUser:
    vendor = prepaid_vendor(status="active")
    return VendorUser.objects.create(vendor=vendor, user=new_user(), role=VendorUser.Role.OWNER)


def _member_order_confirmed(member: VendorUser, i: int) -> Any:
    from portal.order_actions import member_order_place

    # Every request is the same confirm form sent again: the key it carries.
    return member_order_place(
        member=member, idempotency_key="portal-confirm", bundle_code=BUNDLE_CODE, quantity=2
    )


def _portal_member_with_esim() -> tuple[VendorUser, str]:
    member = _portal_member()
    order = vendor_order_bought_via_api(vendor_client(member.vendor), quantity=1)
    return member, order.esims.get().iccid


def _member_topup_confirmed(ctx: tuple[VendorUser, str], i: int) -> Any:
    from portal.order_actions import member_topup_place

    member, iccid = ctx
    return member_topup_place(
        member=member, idempotency_key="portal-topup", iccid=iccid, bundle_code=TOPUP_CODE
    )


BULK_FILE = (
    "bundle,quantity,customer_email,language,reference\n"
    f"{BUNDLE_CODE},1,,en,R-1\n{BUNDLE_CODE},2,,es,R-2\n{TOPUP_CODE},1,,,R-3\n"
).encode()


def _member_bulk_upload(member: VendorUser, i: int) -> Any:
    from portal.bulk import bulk_order_check, bulk_order_start

    checked = bulk_order_check(member=member, content=BULK_FILE)
    return bulk_order_start(member=member, checked=checked, filename=f"upload-{i}.csv")


def _esim_expiring() -> Esim:
    """A vendor's eSIM expiring tomorrow, under a rule that tops up 3 days before."""
    vendor = prepaid_vendor()
    esim = Esim.objects.get(order=vendor_order_bought_via_api(vendor_client(vendor), quantity=1))
    AutoTopupRule.objects.create(vendor=vendor, esim=esim, bundle_code=TOPUP_CODE, expiry_days=3)
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(days=1))
    return esim


def _expiry_sweep(esim: Esim, i: int) -> Any:
    from fulfilment.auto_topups.triggers import auto_topups_expiry_check

    return auto_topups_expiry_check()


def _order_delivered_late() -> Order:
    """A vendor's order the delivery guarantee failed while the provider was still
    processing it; the provider delivered its three eSIMs since."""
    order = vendor_order_bought_via_api(vendor_client(prepaid_vendor()))
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED, revoke_on_arrival=True)
    return order


def _late_deliveries_sweep(order: Order, i: int) -> Any:
    from fulfilment.recovery import orders_late_deliveries_revoke

    return orders_late_deliveries_revoke()


def _order_stuck_paid_long() -> Order:
    """A paid order nobody has taken to provisioning for five minutes."""
    order = held_order()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, updated_at=timezone.now() - timedelta(minutes=5)
    )
    return order


def _redrive_sweep(order: Order, i: int) -> Any:
    from fulfilment.recovery import orders_redrive_stuck

    return orders_redrive_stuck(older_than=timedelta(seconds=60))


def _order_not_delivered_in_time() -> Order:
    """A vendor's order whose one attempt met a provider outage two hours ago."""
    from fulfilment.provisioning import order_provision_attempt
    from orders.models import OrderEvent
    from orders.services import order_create_b2b
    from providers import ProviderUnavailable

    vendor = prepaid_vendor()
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
    from fulfilment.recovery import orders_delivery_guarantee

    return orders_delivery_guarantee()


def _provider_refunds_due() -> Order:
    """A late delivery taken back: the provider owes its three eSIMs' cost back."""
    from fulfilment.recovery import orders_late_deliveries_revoke

    order = _order_delivered_late()
    assert orders_late_deliveries_revoke() == [order.pk]
    return order


def _provider_refunds_sweep(order: Order, i: int) -> Any:
    from fulfilment.provider_refunds import provider_refunds_collect

    return provider_refunds_collect()


def _airalo_refund_pending() -> Any:
    """A vendor's eSIM Airalo delivered, taken back: Airalo owes its cost, in credit."""
    from fulfilment.models import ProviderRefund
    from fulfilment.provider_refunds import provider_refund_expect

    order = _vendor_order_bought()
    Order.objects.filter(pk=order.pk).update(provider="airalo")
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    provider_refund_expect(
        order=order, iccid=esim.iccid, bundle_code=BUNDLE_CODE, cost=Money(150, order.currency)
    )
    return ProviderRefund.objects.get(order=order, iccid=esim.iccid)


def _card_fees_unbooked() -> Order:
    """A customer's paid order whose card-fee task was lost: only the sweep books it."""
    with mock.patch("payments.tasks.card_fees_book.delay"):
        _, order = customer_paid_order()
    return order


def _card_fees_sweep(order: Order, i: int) -> Any:
    from payments.fees import card_fees_sweep

    return card_fees_sweep()


class _Crash(BaseException):
    """The process dying mid-way: nothing of ours catches it."""


def _esim_refund_cut_short() -> EsimRefund:
    """A card refund of an eSIM whose process died after the gateway refunded, its claim
    lapsed: the resume job finishes it."""
    from fulfilment.refunds import CLAIM_SECONDS, esim_refund_request

    _, order = customer_paid_order()
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
    from fulfilment.refunds import esim_refunds_resume

    return esim_refunds_resume()


def _auto_topup_execute(run: AutoTopupRun, i: int) -> Any:
    from fulfilment.auto_topups.services import auto_topup_execute

    return auto_topup_execute(run_id=run.pk)


def _customer_run() -> AutoTopupRun:
    return pending_run(customer=True)


def _vendor_auto_esim() -> Esim:
    return auto_topup_esim(customer=False)


# --- the entries --------------------------------------------------------------------------------

# --- ready stock ------------------------------------------------------------------------------


def _stocked_bundle(target: int = 5) -> Any:
    """A bundle of its own (a copy of the sandbox bundle under a fresh code: each prepare
    starts from empty stock) with live stock settings: floor and target `target`."""
    import uuid

    from catalogue.models import Bundle
    from fulfilment.stock.models import StockSetting
    from sandbox.provider import SandboxFaults, sandbox_faults_set

    bundles_ensure()
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    bundle = Bundle.objects.get(code=BUNDLE_CODE)
    countries = list(bundle.countries.all())
    bundle.pk = None
    bundle.code = f"stock_race_{uuid.uuid4().hex[:8]}"
    bundle.save()
    bundle.countries.set(countries)
    return StockSetting.objects.create(
        bundle=bundle, floor=target, target=target, capital_cap=100_000
    )


def _stock_refill(setting: Any, i: int) -> Any:
    from fulfilment.stock.refill import stock_refill_run

    return stock_refill_run(bundle_code=setting.bundle.code, sleep=lambda s: None)


def _stock_aged() -> Any:
    """Three eSIMs bought for stock 58 days ago: their refund window closes soon."""
    from fulfilment.stock.models import StockEsim

    setting = _stocked_bundle(target=3)
    _stock_refill(setting, 0)
    StockEsim.objects.filter(bundle_code=setting.bundle.code).update(
        purchased_at=timezone.now() - timedelta(days=58)
    )
    return setting


def _stock_age(setting: Any, i: int) -> Any:
    from fulfilment.stock.ageing import stock_age_run

    return stock_age_run()


def _stock_bought() -> Any:
    setting = _stocked_bundle(target=3)
    _stock_refill(setting, 0)
    return setting


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
            "B2B order from stock",
            "the wallet holds five orders' price: exactly 5 are delivered from stock and "
            "charged, nothing bought from the provider",
            prepare=_vendor_for_five_stocked_orders,
            attempt=_b2b_order,
            settle=_delivered_from_stock,
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
            "B2B IoT SIM top-up",
            "the wallet holds five IoT top-ups' price: exactly 5 are bought and charged",
            prepare=_iot_sim_for_five_topups,
            attempt=_iot_topup,
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
            prepare=lambda: vendor_client(prepaid_vendor()),
            attempt=_wallet_topup,
            allowed=_each_success,
            settle=_pay_every_vendor_intent,
        ),
        Race(
            "sub-vendor transfer",
            "the parent's wallet holds five transfers: exactly 5 move, none overdraws it",
            prepare=_parent_with_five_transfers,
            attempt=_transfer,
            allowed=lambda ctx, results: 5,
        ),
        Race(
            "sub-vendor transfer, one key",
            "one transfer (its Idempotency-Key) sent 20 times: moved once",
            prepare=_parent_with_five_transfers,
            attempt=_transfer_one_key,
        ),
        Race(
            "invoice payment",
            "one invoice, paid with every intent handed out: charged its due once",
            prepare=postpaid_invoice,
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
            prepare=captured_event,
            attempt=lambda event, i: event_deliver(event),
        ),
        Race(
            "eSIM Go usage callback: auto top-up",
            "20 alerts (100 MB down to 81 MB left of 1,000) of one crossing: one top-up bought",
            prepare=_vendor_auto_esim,
            attempt=usage_alert,
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
            "beat: card fees swept",
            "a paid order's fee task lost, 20 sweeps at once: its card fee booked once",
            prepare=_card_fees_unbooked,
            attempt=_card_fees_sweep,
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
        Race(
            "beat: stock refill",
            "an empty stocked bundle, 20 refill runs at once: its shortfall bought and booked once",
            prepare=_stocked_bundle,
            attempt=_stock_refill,
        ),
        Race(
            "beat: stock ageing",
            "three stock eSIMs near their refund window, 20 runs: each given back, booked once",
            prepare=_stock_aged,
            attempt=_stock_age,
        ),
        # Operators
        Race(
            "operator: stock refill",
            "an empty stocked bundle refilled by 20 operators at once: bought and booked once",
            prepare=_operators_and(_stocked_bundle),
            attempt=lambda ctx, i: stock_operator.operator_stock_refill(
                setting=ctx[0], actor=ctx[1][i]
            ),
        ),
        Race(
            "operator: stock release",
            "three stock eSIMs released by 20 operators at once: each given back, booked once",
            prepare=_operators_and(_stock_bought),
            attempt=lambda ctx, i: stock_operator.operator_stock_release(
                setting=ctx[0], actor=ctx[1][i]
            ),
        ),
        Race(
            "operator: provider credit matched",
            "one Airalo credit entered by 20 finance operators at once: the refund settled once",
            prepare=_operators_and(_airalo_refund_pending, role="finance"),
            attempt=lambda ctx, i: provider_refunds.operator_provider_credit_match(
                refund_id=ctx[0].pk, actor=ctx[1][i], reference=f"credit-{ctx[0].pk}"
            ),
        ),
        Race(
            "operator: review approve",
            "a held paid order approved by 20 operators: provisioned (bought) once",
            prepare=_operators_and(held_order),
            attempt=lambda ctx, i: orders_operator.operator_review_approve(
                order_id=ctx[0].pk, actor=ctx[1][i], note="race"
            ),
        ),
        Race(
            "operator: review reject",
            "a held paid order rejected by 20 operators: refunded once",
            prepare=_operators_and(held_order),
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
            prepare=_operators_and(prepaid_vendor, "finance"),
            attempt=lambda ctx, i: billing_operator.operator_vendor_adjust(
                vendor_id=ctx[0].pk, actor=ctx[1][i], amount=Money(100, "USD"), reason="race"
            ),
            allowed=_each_success,
        ),
        Race(
            "operator: wallet top-up refund",
            "a paid wallet top-up refunded in full by 20 operators: refunded once",
            prepare=_operators_and(wallet_topup_paid, "finance"),
            attempt=lambda ctx, i: console_operator.operator_payment_refund(
                payment_id=ctx[0].pk, actor=ctx[1][i], amount=None, reason="race"
            ),
        ),
        Race(
            "operator: eSIM refund approve",
            "an eSIM refund held for review approved by 20 operators: revoked, refunded once",
            prepare=_operators_and(esim_refund_in_review),
            attempt=lambda ctx, i: orders_esim_refunds.operator_esim_refund_approve(
                refund_id=ctx[0].pk, actor=ctx[1][i], note="race"
            ),
        ),
        Race(
            "operator: inbound event reprocess",
            "a Stripe event already applied, reprocessed 20 times: nothing moves again",
            prepare=_operators_and(received_event),
            attempt=lambda ctx, i: webhooks_operator.operator_inbound_reprocess(
                event_id=ctx[0], actor=ctx[1][i]
            ),
            moves=False,
        ),
        Race(
            "operator: reconciliation refund",
            "a failed paid order's finding fixed by 20 operators: refunded once",
            prepare=_operators_and(refund_finding, "finance"),
            attempt=lambda ctx, i: reconciliation_services.finding_fix(
                finding_id=ctx[0], actor=ctx[1][i], action="refund", note="race"
            ),
        ),
        # The portal (its views call these member services, and nothing else that moves money)
        Race(
            "portal: play money refill",
            "a test wallet below its play money, refilled 20 times: back up to 1,000.00 once",
            prepare=test_wallet_drained,
            attempt=_member_play_money,
        ),
        Race(
            "portal: simulated wallet top-up",
            "each click is another paid test top-up: 20 intents, each charged and credited once",
            prepare=test_wallet_drained,
            attempt=_member_simulated_topup,
            allowed=_each_success,
        ),
        Race(
            "portal: simulated provisioning failure",
            "each click is another test order the provider refuses: 20 charged, 20 released",
            prepare=test_wallet_drained,
            attempt=_member_simulated_failure,
            allowed=_each_success,
        ),
        Race(
            "portal: order confirmed 20 times",
            "one confirm form (its key) sent 20 times: one order, its funds reserved once",
            prepare=_portal_member,
            attempt=_member_order_confirmed,
        ),
        Race(
            "portal: top-up confirmed 20 times",
            "one top-up confirm form sent 20 times: one top-up order, paid once",
            prepare=_portal_member_with_esim,
            attempt=_member_topup_confirmed,
        ),
        Race(
            "portal: bulk order of one file, uploaded 20 times",
            "the same 3-row file uploaded 20 times at once: each row's order placed once",
            prepare=_portal_member,
            attempt=_member_bulk_upload,
        ),
        Race(
            "portal: test card pays a payment",
            "one pending test payment confirmed 20 times: charged and credited once",
            prepare=pending_test_payment,
            attempt=_member_test_card,
        ),
    ]
}
