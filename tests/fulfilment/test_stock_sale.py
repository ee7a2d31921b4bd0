"""Sales from ready stock through the real order paths: a vendor's order of a stocked
bundle is answered 201 completed with its eSIMs (the same shape the order's GET shows),
charged as today, its cost moved from inventory to cost of sales, its webhook and its
tagging at the provider queued; empty stock, a held order or the other mode's stock
leaves today's path unchanged; a customer's paid order takes from stock in the
provisioning task before any provider call."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
import responses
from django.utils import timezone
from responses import matchers
from rest_framework.test import APIClient

from billing.play_money import vendor_test_environment_open
from fulfilment.models import Esim
from fulfilment.provisioning import order_provision_attempt
from fulfilment.stock.models import StockEsim
from fulfilment.stock.tagging import stock_order_tag
from ledger.models import Entry, Purpose, Transaction
from ledger.services import platform_account, stock_purchase_record
from orders.models import Order
from orders.services import order_create_b2c
from payments.models import Payment
from providers import ProviderUnavailable
from sandbox.models import SandboxOrder
from sandbox.stripe import sandbox_intent_succeed
from tests.factories import UserFactory, VendorFactory
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, hold_status, post
from tests.webhooks.factories import events_publish
from ttelgo.models import OutboxMessage
from ttelgo.money import Money
from vendors.services import api_key_issue
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

COST = 139


def stocked(count: int, *, livemode: bool = True) -> list[StockEsim]:
    """A stocked sandbox bundle with `count` eSIMs, their purchase booked to inventory."""
    stock_setting(livemode=livemode)
    rows = stock_esims(count, livemode=livemode, cost=COST)
    stock_purchase_record(
        cost=Money(COST * count, "USD"),
        reference=f"stock-test:{livemode}:{count}",
        livemode=livemode,
    )
    return rows


def balance(purpose: str, *, livemode: bool = True) -> int:
    account = platform_account(purpose, "USD", livemode)
    return sum(Entry.objects.filter(account=account).values_list("amount", flat=True))


def order_via_api(client, quantity: int = 1):
    return post(client, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": quantity})


@pytest.fixture
def vendor_api(db):
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def test_a_stocked_order_is_answered_completed_with_its_esims_in_the_201(vendor_api):
    rows = stocked(3)
    response = order_via_api(vendor_api, quantity=2)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed"
    # Oldest first; each eSIM with what installs it: ICCID, LPA, one-tap link, its page.
    assert [e["iccid"] for e in body["esims"]] == [rows[0].iccid, rows[1].iccid]
    for esim, row in zip(body["esims"], rows, strict=False):
        assert esim["lpa"] == f"LPA:1${row.smdp_address}${row.matching_id}"
        assert esim["activation"]["ios_url"].startswith("https://")
        assert esim["page_url"]
        assert esim["livemode"] is True and esim["order_id"] == body["id"]
    # The same shape and values as the order's GET.
    got = vendor_api.get(f"/api/v1/vendor/orders/{body['id']}").json()
    assert got["esims"] == body["esims"] and got["status"] == "completed"
    assert StockEsim.objects.filter(status=StockEsim.Status.SOLD).count() == 2
    # Nothing was queued for provisioning, nothing bought from the provider.
    assert not OutboxMessage.objects.filter(task="fulfilment.tasks.order_provision").exists()
    assert not SandboxOrder.objects.exists()
    order = Order.objects.get(pk=body["id"])
    assert order.provisioning_queued_until is None and order.cost_total == 2 * COST


def test_a_stock_sale_charges_the_hold_and_moves_its_cost_from_inventory_to_cogs(vendor_api):
    stocked(3)
    body = order_via_api(vendor_api).json()
    assert hold_status(body["id"]) == "captured"
    kinds = set(Transaction.objects.filter(order_id=body["id"]).values_list("kind", flat=True))
    assert kinds == {Transaction.Kind.ORDER_CHARGE, Transaction.Kind.STOCK_SALE_COST}
    assert balance(Purpose.INVENTORY) == 2 * COST
    assert balance(Purpose.COGS) == COST
    assert balance(Purpose.PROVIDER_PAYABLE) == -3 * COST  # bought once, owed once
    assert_ledger_sound()


def test_a_stock_sale_fires_the_order_webhook_and_queues_its_tagging(vendor_api):
    stocked(1)
    body = order_via_api(vendor_api).json()
    tags = OutboxMessage.objects.filter(task="fulfilment.tasks.stock_order_tag")
    assert [m.args for m in tags] == [[body["id"]]]
    events_publish()
    event = WebhookEvent.objects.get(type="order.completed")
    assert event.data["order_id"] == body["id"]
    assert [e["iccid"] for e in event.data["esims"]] == [body["esims"][0]["iccid"]]


def test_without_enough_stock_the_order_is_provisioned_as_today(vendor_api):
    stocked(1)
    response = order_via_api(vendor_api, quantity=2)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "provisioning" and body["esims"] == []
    assert OutboxMessage.objects.filter(task="fulfilment.tasks.order_provision").count() == 1
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == 1
    assert hold_status(body["id"]) == "pending"


def test_a_held_order_never_takes_from_stock(vendor_api):
    stocked(1)
    with mock.patch("orders.services.order_fraud_assess", return_value=["velocity"]):
        body = order_via_api(vendor_api).json()
    assert body["status"] == "in_review"
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == 1


def test_a_live_order_never_takes_test_stock_and_a_test_order_takes_test_stock(vendor_api):
    stocked(2, livemode=False)
    live = order_via_api(vendor_api).json()
    assert live["status"] == "provisioning" and live["esims"] == []
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == 2

    environment = vendor_test_environment_open(vendor=vendor_api.vendor)
    test_api = APIClient()
    test_api.credentials(
        HTTP_AUTHORIZATION=f"Api-Key {api_key_issue(vendor=environment, name='t')[1]}"
    )
    test = order_via_api(test_api).json()
    assert test["status"] == "completed" and test["livemode"] is False
    assert test["esims"][0]["livemode"] is False
    # The test sale's cost moves in test mode's twin accounts only.
    assert balance(Purpose.COGS, livemode=False) == COST
    assert balance(Purpose.COGS) == 0


def test_a_paid_customer_order_takes_from_stock_before_any_provider_call(
    bundles_create_db, django_capture_on_commit_callbacks
):
    rows = stocked(1)
    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    with (
        mock.patch("fulfilment.tasks.order_provision.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    assert Order.objects.get(pk=order.pk).status == "provisioning"
    # The provisioning task's attempt (as the worker runs it).
    outcome = order_provision_attempt(order_id=order.pk)
    assert (outcome.result, outcome.reason) == ("completed", "from stock")
    order.refresh_from_db()
    assert order.status == "completed" and order.provisioning_attempts == 0
    assert list(Esim.objects.filter(order=order).values_list("iccid", flat=True)) == [rows[0].iccid]
    assert not SandboxOrder.objects.exists()
    kinds = set(Transaction.objects.filter(order_id=order.pk).values_list("kind", flat=True))
    assert Transaction.Kind.STOCK_SALE_COST in kinds and Transaction.Kind.ORDER_COST not in kinds
    assert OutboxMessage.objects.filter(task="fulfilment.tasks.order_esims_email").exists()
    assert_ledger_sound()


def test_an_order_an_attempt_sent_to_the_provider_never_takes_from_stock(bundles_create_db):
    """A purchase may be under way at the provider: taking stock too would sell twice."""
    stocked(1)
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    from orders.services import order_create_b2b

    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    Order.objects.filter(pk=order.pk).update(provider_order_sent_at=timezone.now())
    outcome = order_provision_attempt(order_id=order.pk)
    assert outcome.reason != "from stock"
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == 1


@pytest.fixture
def bundles_create_db(db):
    return bundles_create()


# --- in_stock in the vendor catalogue ----------------------------------------------------


def _in_stock(client) -> dict[str, bool]:
    body = client.get("/api/v1/vendor/catalogue").json()
    return {b["code"]: b["in_stock"] for b in body["results"]}


def test_the_vendor_catalogue_says_which_bundles_are_in_stock_now_in_the_keys_mode(vendor_api):
    assert _in_stock(vendor_api) == {BUNDLE_CODE: False, TOPUP_CODE: False}
    stocked(1, livemode=False)  # test stock is not live stock
    assert _in_stock(vendor_api)[BUNDLE_CODE] is False
    stocked(1)
    assert _in_stock(vendor_api) == {BUNDLE_CODE: True, TOPUP_CODE: False}
    body = vendor_api.get("/api/v1/vendor/catalogue").json()["results"][0]
    assert [k for k in body if "stock" in k] == ["in_stock"]  # no counts
    # Sold out: the next answer says so (no cached answer outlives the stock it showed).
    assert order_via_api(vendor_api).json()["status"] == "completed"
    assert _in_stock(vendor_api)[BUNDLE_CODE] is False


# --- tagging at the provider after the sale ----------------------------------------------


@pytest.fixture
def esimgo_live(settings):
    """The live provider is eSIM Go against a mocked base URL (responses)."""
    import providers
    from providers.esimgo import EsimGoProvider, build_breaker
    from tests.providers.esimgo_data import BASE, KEY

    settings.ESIM_PROVIDER, settings.ESIMGO_API_KEY = "esimgo", KEY
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
    )
    providers._clients["esimgo"] = EsimGoProvider(
        api_key=KEY, base_url=BASE, currency="USD", breaker=breaker, sleep=lambda s: None
    )
    yield BASE
    providers._clients.pop("esimgo", None)


@responses.activate
def test_tagging_a_stock_sale_at_the_provider_is_idempotent_and_retried(vendor_api, esimgo_live):
    rows = stocked(2)
    body = order_via_api(vendor_api, quantity=2).json()
    assert body["status"] == "completed"
    reference = f"ttelgo-order-{body['id']}"
    first = responses.put(
        f"{esimgo_live}/esims",
        json={},
        match=[matchers.json_params_matcher({"iccid": rows[0].iccid, "customerRef": reference})],
    )
    # The second eSIM's tag is refused for a while (503), then accepted.
    responses.put(
        f"{esimgo_live}/esims",
        status=503,
        match=[matchers.json_params_matcher({"iccid": rows[1].iccid, "customerRef": reference})],
    )
    with pytest.raises(ProviderUnavailable):
        stock_order_tag(order_id=body["id"])
    assert first.call_count == 1
    assert StockEsim.objects.get(pk=rows[0].pk).tagged_at is not None
    assert StockEsim.objects.get(pk=rows[1].pk).tagged_at is None

    responses.replace(
        responses.PUT,
        f"{esimgo_live}/esims",
        json={},
        match=[matchers.json_params_matcher({"iccid": rows[1].iccid, "customerRef": reference})],
    )
    assert stock_order_tag(order_id=body["id"]) == 1  # the retry tags only what is left
    assert stock_order_tag(order_id=body["id"]) == 0  # run again: nothing is sent
    assert first.call_count == 1
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert (
        sum(
            1
            for c in puts
            if rows[1].iccid in c.request.body.decode() and c.response.status_code == 200
        )
        == 1
    )
    assert StockEsim.objects.filter(tagged_at__isnull=True).count() == 0


def test_tagging_in_test_mode_tags_at_the_sandbox(vendor_api):
    """The sandbox provider keeps the tag like eSIM Go (test mode runs all of it)."""
    from sandbox.models import SandboxEsim
    from sandbox.provider import SandboxProvider

    bought = SandboxProvider().create_order(
        bundle_code=BUNDLE_CODE, quantity=1, reference="refill-1"
    )
    setting = stock_setting(livemode=True)
    StockEsim.objects.create(
        iccid=bought.esims[0].iccid,
        bundle_code=BUNDLE_CODE,
        smdp_address=bought.esims[0].smdp_address,
        matching_id=bought.esims[0].matching_id,
        cost_amount=COST,
        currency="USD",
        provider_reference=bought.reference,
        purchased_at=timezone.now(),
    )
    assert setting.enabled
    body = order_via_api(vendor_api).json()
    assert stock_order_tag(order_id=body["id"]) == 1
    assert SandboxEsim.objects.get(iccid=bought.esims[0].iccid).customer_ref == (
        f"ttelgo-order-{body['id']}"
    )


# --- reconciliation knows stock ----------------------------------------------------------


def _bought_at_sandbox(count: int, *, keep: int | None = None) -> list[StockEsim]:
    """A stock purchase at the sandbox provider; `keep` of its eSIMs put in stock (all by
    default), their cost booked to inventory."""
    from sandbox.provider import SandboxProvider

    bought = SandboxProvider().create_order(
        bundle_code=BUNDLE_CODE, quantity=count, reference="ttelgo-stock-1"
    )
    stock_setting()
    kept = bought.esims[: count if keep is None else keep]
    rows = [
        StockEsim.objects.create(
            iccid=e.iccid,
            bundle_code=BUNDLE_CODE,
            smdp_address=e.smdp_address,
            matching_id=e.matching_id,
            cost_amount=COST,
            currency="USD",
            provider_reference=bought.reference,
            purchased_at=timezone.now(),
        )
        for e in kept
    ]
    stock_purchase_record(cost=Money(COST * len(rows), "USD"), reference="stock:sbx")
    return rows


def _codes(run) -> list[str]:
    return sorted(run.findings.values_list("code", flat=True))


def test_reconciliation_matches_stock_purchases_and_orders_sold_from_stock(vendor_api):
    from reconciliation.services import reconciliation_run

    _bought_at_sandbox(2)
    assert order_via_api(vendor_api).json()["status"] == "completed"
    run = reconciliation_run()
    # Not "provider_order_unknown" (the stock purchase), nor "esim_missing_at_provider"
    # (the order sold from stock), nor an inventory difference.
    assert _codes(run) == []


def test_reconciliation_finds_stock_the_provider_sold_us_but_we_do_not_hold(vendor_api):
    from reconciliation.services import reconciliation_run

    _bought_at_sandbox(2, keep=1)
    assert _codes(reconciliation_run()) == ["stock_count_mismatch"]


def test_reconciliation_finds_inventory_that_does_not_match_the_stock_on_hand(vendor_api):
    from reconciliation.services import reconciliation_run

    _bought_at_sandbox(1)
    stock_esims(1, cost=COST)  # in stock, never booked to inventory
    run = reconciliation_run()
    finding = run.findings.get(code="inventory_mismatch")
    assert finding.details == {
        "inventory": {"amount": "1.39", "currency": "USD"},
        "stock": {"amount": "2.78", "currency": "USD"},
    }


def test_the_schema_documents_in_stock_and_the_stock_201(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    bundle = schema["components"]["schemas"]["VendorCatalogueListOutput"]
    assert bundle["properties"]["in_stock"]["type"] == "boolean"
    assert "in_stock" in bundle["required"]
    create = schema["paths"]["/api/v1/vendor/orders"]["post"]
    assert "ready stock" in create["description"] and "completed" in create["description"]


def test_with_the_provider_down_stocked_orders_still_complete(
    vendor_api, django_capture_on_commit_callbacks
):
    """Every provider call answers 503: orders stock can fill complete (vendor in the 201,
    customer in the provisioning task); the order stock cannot fill waits to retry."""
    from sandbox.provider import SandboxFaults, sandbox_faults_set

    stocked(2)
    sandbox_faults_set(SandboxFaults(mode="503"))
    assert order_via_api(vendor_api).json()["status"] == "completed"
    short = order_via_api(vendor_api, quantity=2).json()
    assert short["status"] == "provisioning"
    assert order_provision_attempt(order_id=short["id"]).result == "retry"

    order = order_create_b2c(customer=UserFactory(), bundle_code=BUNDLE_CODE, quantity=1)
    payment = Payment.objects.get(order=order)
    with (
        mock.patch("fulfilment.tasks.order_provision.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    assert order_provision_attempt(order_id=order.pk).reason == "from stock"
    assert Order.objects.get(pk=order.pk).status == "completed"
    assert Order.objects.get(pk=short["id"]).status == "provisioning"


def test_a_provider_order_bought_for_a_stock_batch_is_never_adopted_by_an_order(db):
    """A timed-out order finds provider orders by bundle and quantity: one a stock batch
    holds is not an orphan it may adopt."""
    from fulfilment.provisioning import provider_reference_unclaimed
    from fulfilment.stock.models import StockBatch

    assert provider_reference_unclaimed("PO-STOCK-1")
    StockBatch.objects.create(
        bundle_code="esim_1GB_7D_GB_V2",
        quantity=10,
        reference="ttelgo-stock-1",
        provider_reference="PO-STOCK-1",
        expected_cost_amount=1000,
        currency="USD",
    )
    assert not provider_reference_unclaimed("PO-STOCK-1")


# --- out of stock, told at the sale ---------------------------------------------------------


def _ops_alerts() -> list[list]:
    from ttelgo.ops_email import TASK as OPS_EMAIL_TASK

    return [m.args for m in OutboxMessage.objects.filter(task=OPS_EMAIL_TASK)]


def test_a_sale_that_takes_the_last_stock_esim_tells_operators_once(vendor_api, settings):
    """No refill runs here: the sale's tagging task (after commit) finds the bundle empty
    and operators are emailed once; sales that find it empty later add nothing."""
    settings.OPERATIONS_EMAIL = "ops@ttelgo.test"
    stocked(2)
    first = order_via_api(vendor_api).json()
    stock_order_tag(order_id=first["id"])
    assert _ops_alerts() == []  # one eSIM left
    last = order_via_api(vendor_api).json()
    assert last["status"] == "completed"
    stock_order_tag(order_id=last["id"])
    alerts = _ops_alerts()
    assert len(alerts) == 1 and "ran out" in alerts[0][0] and BUNDLE_CODE in alerts[0][0]

    # Orders that find it empty go to provisioning; operators were told already.
    empty = order_via_api(vendor_api).json()
    assert empty["status"] == "provisioning"
    for message in OutboxMessage.objects.filter(task="fulfilment.tasks.stock_out_check"):
        from fulfilment.tasks import stock_out_check

        stock_out_check(*message.args)
    stock_order_tag(order_id=last["id"])  # a retried tagging task checks again: no repeat
    assert len(_ops_alerts()) == 1


def test_a_sale_that_finds_the_stock_empty_queues_the_check_once(vendor_api, settings):
    """Stock emptied without a sale (its last eSIM released by an operator): the first
    live order that finds none queues the out-of-stock check after
    its commit, later ones within the minute do not; the check emails operators once."""
    from fulfilment.tasks import stock_out_check

    settings.OPERATIONS_EMAIL = "ops@ttelgo.test"
    rows = stocked(1)
    StockEsim.objects.filter(pk=rows[0].pk).update(status=StockEsim.Status.REVOKED)
    for _ in range(3):
        assert order_via_api(vendor_api).json()["status"] == "provisioning"
    checks = OutboxMessage.objects.filter(task="fulfilment.tasks.stock_out_check")
    assert [m.args for m in checks] == [[BUNDLE_CODE, True]]
    assert stock_out_check(BUNDLE_CODE, True) == 1
    assert stock_out_check(BUNDLE_CODE, True) == 0
    assert len(_ops_alerts()) == 1
