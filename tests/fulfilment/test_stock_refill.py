"""Stock refill: batches no larger than the provider's advised order, spaced, within the
bundle's and the overall capital caps, booked to inventory with the eSIMs in one
transaction; a batch whose call timed out is found at the provider before it is ordered
again; the provider's refusals back off; levels computed from sales; operators told
once when a stocked bundle runs out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from django.test import override_settings
from django.utils import timezone

from fulfilment.stock import refill as refill_module
from fulfilment.stock.levels import stock_levels
from fulfilment.stock.models import StockBatch, StockEsim, StockSetting
from fulfilment.stock.refill import stock_refill_plan, stock_refill_run
from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from ledger.services import platform_account
from providers.esimgo import EsimGoProvider
from providers.resilience import build_breaker
from sandbox.models import SandboxOrder
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.console.factories import order_row
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import BUNDLE_CODE, COST
from tests.providers.esimgo_data import BASE, KEY, TRANSACTION
from ttelgo.models import OutboxMessage
from ttelgo.ops_email import TASK as OPS_EMAIL_TASK

pytestmark = pytest.mark.django_db
UNIT = COST[BUNDLE_CODE]  # 139 minor units


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _prompt_sandbox():
    """Sandbox orders of more than 5 complete at once (as if processed), unless a test
    says otherwise."""
    sandbox_faults_set(SandboxFaults(processing_seconds=0))


def _inventory() -> int:
    return account_balance(account=platform_account(Purpose.INVENTORY, "USD")).amount


@override_settings(STOCK_REFILL_BATCH_SIZE=10, STOCK_REFILL_SPACING_SECONDS=3.0)
def test_refill_buys_up_to_the_target_in_batches_of_the_advised_size_spaced_apart(bundles):
    stock_setting(floor=5, target=25, capital_cap=100_000)
    sleeps = Sleeps()
    report = stock_refill_run(sleep=sleeps)

    quantities = list(SandboxOrder.objects.order_by("id").values_list("quantity", flat=True))
    assert quantities == [10, 10, 5]
    # Between orders, not before the first: each order's slot is 3 s after the one before.
    assert sleeps == [pytest.approx(3.0, abs=0.5), pytest.approx(6.0, abs=0.5)]
    assert report.bought == 25
    stock = StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE)
    assert stock.count() == 25
    assert all(e.smdp_address and e.matching_id and e.batch_id for e in stock)
    assert {e.provider for e in stock} == {"sandbox"}  # the bundle's route: where it came from
    assert sum(e.cost_amount for e in stock) == 25 * UNIT
    assert _inventory() == 25 * UNIT
    purchases = Transaction.objects.filter(kind=Transaction.Kind.STOCK_PURCHASE)
    assert purchases.count() == 3  # one posting per batch
    batches = StockBatch.objects.order_by("id")
    assert [b.status for b in batches] == ["completed"] * 3
    assert all(b.reference == f"ttelgo-stock-{b.pk}" for b in batches)

    # At the target, and above the floor: nothing more is bought.
    assert stock_refill_run(sleep=sleeps).bought == 0
    assert SandboxOrder.objects.count() == 3


def test_no_refill_at_or_above_the_floor(bundles):
    stock_setting(floor=5, target=20)
    stock_esims(5)
    assert stock_refill_run(sleep=Sleeps()).planned == 0
    assert SandboxOrder.objects.count() == 0


def test_a_disabled_setting_is_not_refilled(bundles):
    stock_setting(floor=5, target=20, enabled=False)
    assert stock_refill_run(sleep=Sleeps()).bought == 0


def test_the_bundle_capital_cap_counts_what_is_held_and_what_is_planned(bundles):
    # Cap of 12 eSIMs; 3 held: 9 more may be bought though the target asks for 17.
    stock_setting(floor=5, target=20, capital_cap=12 * UNIT)
    stock_esims(3, cost=UNIT)
    stock_refill_run(sleep=Sleeps())
    assert list(SandboxOrder.objects.values_list("quantity", flat=True)) == [9]
    held = sum(StockEsim.objects.values_list("cost_amount", flat=True))
    assert held == 12 * UNIT


@override_settings(STOCK_CAPITAL_CAP_TOTAL=4 * UNIT)
def test_the_overall_capital_cap_holds_across_bundles_and_modes_apart(bundles):
    stock_setting(floor=5, target=20, capital_cap=100_000)
    stock_setting(floor=5, target=20, capital_cap=100_000, livemode=False)
    stock_refill_run(sleep=Sleeps())
    live = StockEsim.objects.filter(livemode=True).count()
    test = StockEsim.objects.filter(livemode=False).count()
    assert (live, test) == (4, 4)  # each mode within the overall cap on its own


def test_a_refill_refused_by_the_provider_backs_off_and_buys_nothing_meanwhile(bundles):
    stock_setting(floor=5, target=20)
    sandbox_faults_set(SandboxFaults(mode="503", retry_after=1))
    report = stock_refill_run(sleep=Sleeps())
    assert report.refused and report.bought == 0
    assert report.batches == ["refused"]  # stopped at the first refusal
    planned = StockBatch.objects.filter(status=StockBatch.Status.PLANNED)
    assert planned.count() == 2
    assert all(b.due_at and b.due_at > timezone.now() for b in planned)  # every batch waits
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    assert stock_refill_run(sleep=Sleeps()).bought == 0  # not due yet: no call at all
    assert SandboxOrder.objects.count() == 0
    planned.update(due_at=None)
    assert stock_refill_run(sleep=Sleeps()).bought == 20
    assert StockBatch.objects.filter(status=StockBatch.Status.COMPLETED).count() == 2


def test_a_batch_the_provider_is_still_processing_is_read_again_not_ordered_again(bundles):
    stock_setting(floor=5, target=10)
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=60))
    assert stock_refill_run(sleep=Sleeps()).batches == ["processing"]
    batch = StockBatch.objects.get()
    assert batch.provider_reference and batch.status == StockBatch.Status.PLANNED
    SandboxOrder.objects.update(ready_at=timezone.now())  # the provider finished it
    StockBatch.objects.update(due_at=None)
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    assert stock_refill_run(sleep=Sleeps()).bought == 10
    assert SandboxOrder.objects.count() == 1


def test_a_batch_the_provider_refuses_fails_and_buys_nothing(bundles):
    stock_setting(floor=5, target=11)
    with override_settings(STOCK_REFILL_BATCH_SIZE=11):  # above what the provider takes
        report = stock_refill_run(sleep=Sleeps())
    assert report.batches == ["failed"]
    assert StockBatch.objects.get().status == StockBatch.Status.FAILED
    assert _inventory() == 0


def test_refill_is_never_called_inside_a_transaction(bundles):
    from django.db import transaction

    from fulfilment.stock.refill import stock_batch_buy

    with pytest.raises(RuntimeError), transaction.atomic():
        stock_batch_buy(1)


# --- a timed-out batch is found at the provider (eSIM Go, mocked) ---------------------------


def _listed(ref: str, iccids: list[str], qty: int) -> dict[str, Any]:
    return {
        "orderReference": ref,
        "status": "Completed",
        "currency": "USD",
        "total": 2.78,
        "createdDate": timezone.now().isoformat(),
        "order": [{"type": "bundle", "item": BUNDLE_CODE, "quantity": qty, "iccids": iccids}],
    }


@pytest.fixture
def esimgo(monkeypatch) -> EsimGoProvider:
    breaker = build_breaker(name="stock-refill-test", fail_max=50, reset_timeout=60, redis_url="")
    client = EsimGoProvider(
        api_key=KEY, base_url=BASE, currency="USD", breaker=breaker, sleep=lambda s: None
    )
    monkeypatch.setattr(refill_module, "get_provider", lambda livemode=True: client)
    return client


@responses.activate
def test_a_timed_out_batch_is_found_at_the_provider_and_not_bought_again(bundles, esimgo):
    stock_setting(floor=1, target=2)
    order_call = responses.post(f"{BASE}/orders", body=requests.ReadTimeout("read timed out"))
    report = stock_refill_run(sleep=Sleeps())
    assert report.batches == ["refused"] and order_call.call_count == 1  # not retried blind
    batch = StockBatch.objects.get()
    assert batch.sent_at is not None and not batch.provider_reference

    # The order went through at the provider. The next run looks before buying.
    iccids = [e["iccid"] for e in TRANSACTION["order"][0]["esims"]]
    responses.get(f"{BASE}/orders", json={"orders": [_listed("r-1", iccids, 2)], "pageCount": 1})
    order = {**TRANSACTION, "orderReference": "r-1"}
    order["order"] = [{**TRANSACTION["order"][0], "item": BUNDLE_CODE, "quantity": 2}]
    responses.get(f"{BASE}/orders/r-1", json=order)
    tags = responses.put(f"{BASE}/esims", json={})
    StockBatch.objects.update(due_at=None)
    report = stock_refill_run(sleep=Sleeps())

    assert report.bought == 2
    assert order_call.call_count == 1  # found, not ordered again
    assert tags.call_count == 2  # each eSIM tagged with the batch's reference
    batch.refresh_from_db()
    assert (batch.status, batch.provider_reference) == ("completed", "r-1")
    assert set(StockEsim.objects.values_list("iccid", flat=True)) == set(iccids)
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_PURCHASE).count() == 1


@responses.activate
def test_a_provider_order_another_batch_holds_is_not_adopted(bundles, esimgo):
    stock_setting(floor=1, target=2)
    StockBatch.objects.create(
        bundle_code=BUNDLE_CODE,
        quantity=2,
        expected_cost_amount=2 * UNIT,
        currency="USD",
        status=StockBatch.Status.COMPLETED,
        reference="ttelgo-stock-other",
        provider_reference="r-other",
    )
    responses.post(f"{BASE}/orders", body=requests.ReadTimeout("read timed out"))
    stock_refill_run(sleep=Sleeps())
    responses.get(
        f"{BASE}/orders", json={"orders": [_listed("r-other", ["1", "2"], 2)], "pageCount": 1}
    )
    responses.post(f"{BASE}/orders", json={**TRANSACTION, "orderReference": "r-new"})
    order = {**TRANSACTION, "orderReference": "r-new"}
    order["order"] = [{**TRANSACTION["order"][0], "item": BUNDLE_CODE, "quantity": 2}]
    responses.put(f"{BASE}/esims", json={})
    StockBatch.objects.update(due_at=None)
    stock_refill_run(sleep=Sleeps())
    batch = StockBatch.objects.exclude(reference="ttelgo-stock-other").get()
    assert batch.provider_reference == "r-new"  # bought its own, did not take r-other


# --- computed levels ------------------------------------------------------------------------


@override_settings(
    STOCK_LEVELS_SALES_DAYS=10, STOCK_REFILL_LEAD_TIME_HOURS=48, STOCK_LEVELS_SAFETY_FACTOR="1.5"
)
def test_levels_left_empty_are_computed_from_recent_sales(bundles):
    setting = stock_setting(floor=None, target=None)
    for _ in range(20):  # 20 eSIMs in 10 days: 4 per lead time of 2 days
        order_row(completed_at=timezone.now() - timedelta(days=3))
    order_row(completed_at=timezone.now() - timedelta(days=11))  # outside the window
    order_row(status="failed")  # not a sale
    order_row(livemode=False)  # the other mode's
    levels = stock_levels(setting)
    assert (levels.floor, levels.target, levels.computed) == (6, 10, True)  # 4x1.5; 6+4

    stock_refill_run(sleep=Sleeps())
    assert StockEsim.objects.count() == 10


def test_fixed_levels_are_the_operators(bundles):
    levels = stock_levels(stock_setting(floor=3, target=7))
    assert (levels.floor, levels.target, levels.computed) == (3, 7, False)


def test_no_sales_computes_nothing_to_stock(bundles):
    stock_setting(floor=None, target=None)
    assert stock_refill_run(sleep=Sleeps()).planned == 0
    # nothing meant to be stocked: no out-of-stock alert
    assert not OutboxMessage.objects.filter(task=OPS_EMAIL_TASK).exists()


def test_floor_and_target_are_fixed_together_or_left_empty(bundles):
    from django.core.exceptions import ValidationError

    setting = StockSetting(
        bundle=stock_setting().bundle, livemode=False, floor=3, target=None, capital_cap=1000
    )
    with pytest.raises(ValidationError) as refused:
        setting.full_clean()
    assert "target" in refused.value.message_dict


# --- out of stock ----------------------------------------------------------------------------


@override_settings(OPERATIONS_EMAIL="ops@ttelgo.test")
def test_operators_are_told_once_when_a_stocked_bundle_runs_out(bundles):
    setting = stock_setting(floor=5, target=10)
    sandbox_faults_set(SandboxFaults(mode="503"))  # the refill cannot help
    stock_refill_run(sleep=Sleeps())
    assert not OutboxMessage.objects.filter(task=OPS_EMAIL_TASK).exists()  # first fill
    # It had stock; the last eSIM left it.
    StockEsim.objects.filter(pk=stock_esims(1)[0].pk).update(status=StockEsim.Status.REVOKED)
    stock_refill_run(sleep=Sleeps())
    stock_refill_run(sleep=Sleeps())
    alerts = [m.args for m in OutboxMessage.objects.filter(task=OPS_EMAIL_TASK)]
    assert len(alerts) == 1 and "ran out" in alerts[0][0] and BUNDLE_CODE in alerts[0][0]
    setting.refresh_from_db()
    assert setting.out_alerted_at is not None

    stock_esims(1)  # stocked again: the alert re-arms
    stock_refill_run(sleep=Sleeps())
    setting.refresh_from_db()
    assert setting.out_alerted_at is None


def test_refill_plan_counts_batches_already_planned(bundles):
    stock_setting(floor=5, target=20)
    assert sum(b.quantity for b in stock_refill_plan()) == 20
    assert stock_refill_plan() == []  # the planned batches count toward the level


@responses.activate
def test_a_provider_order_with_esims_we_already_hold_is_not_stored_again(bundles, esimgo):
    stock_setting(floor=1, target=2)
    held = stock_esims(1)[0]
    StockEsim.objects.filter(pk=held.pk).update(
        iccid=TRANSACTION["order"][0]["esims"][0]["iccid"], status=StockEsim.Status.REVOKED
    )
    order = {**TRANSACTION, "orderReference": "r-dup"}
    order["order"] = [{**TRANSACTION["order"][0], "item": BUNDLE_CODE, "quantity": 2}]
    responses.post(f"{BASE}/orders", json=order)
    responses.put(f"{BASE}/esims", json={})
    report = stock_refill_run(sleep=Sleeps())
    assert report.batches == ["failed"]
    batch = StockBatch.objects.get()
    assert "already have" in batch.last_error
    assert StockEsim.objects.count() == 1
    assert not Transaction.objects.filter(kind=Transaction.Kind.STOCK_PURCHASE).exists()


@responses.activate
@override_settings(STOCK_REFILL_RATE_RESERVE=4)
def test_every_refill_call_leaves_the_reserve_of_the_shared_limiter_to_live_orders(
    bundles, monkeypatch
):
    from providers.ratelimit import LocalLimiter, _limit_here

    limiter = LocalLimiter(name="stock-reserve", per_second=10)
    seen: list[int] = []
    real = limiter.acquire

    def acquire(*, timeout: float | None = None) -> None:
        seen.append(_limit_here(limiter.limit))  # the slots this call may fill
        real(timeout=timeout)

    monkeypatch.setattr(limiter, "acquire", acquire)
    breaker = build_breaker(name="stock-reserve", fail_max=50, reset_timeout=60, redis_url="")
    client = EsimGoProvider(
        api_key=KEY, base_url=BASE, breaker=breaker, sleep=lambda s: None, limiter=limiter
    )
    monkeypatch.setattr(refill_module, "get_provider", lambda livemode=True: client)
    order = {**TRANSACTION, "orderReference": "r-bg"}
    order["order"] = [{**TRANSACTION["order"][0], "item": BUNDLE_CODE, "quantity": 2}]
    responses.post(f"{BASE}/orders", json=order)
    responses.put(f"{BASE}/esims", json={})
    stock_setting(floor=1, target=2)

    assert stock_refill_run(sleep=Sleeps()).bought == 2
    assert len(seen) == 3  # the order and two tags
    assert set(seen) == {10 - 4}  # never the last 4 slots of the window
    limiter.acquire(timeout=0)  # a live call outside the refill may use all 10
    assert _limit_here(limiter.limit) == 10


def test_the_level_is_read_in_one_statement_so_a_batch_settling_meanwhile_is_counted_once(
    bundles,
):
    """A batch settling moves its eSIMs from "planned" to "free" in one commit. Read in two
    statements (free, then planned), a planner could see the free eSIMs before the commit
    and the batch after it, count neither, and buy the shortfall again (seen once in the
    20-run refill race on PostgreSQL): the level is one statement, one snapshot."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fulfilment.stock.refill import stock_level

    stock_setting(floor=5, target=20)
    stock_esims(3)
    StockBatch.objects.create(
        bundle_code=BUNDLE_CODE,
        livemode=True,
        provider="sandbox",
        quantity=4,
        expected_cost_amount=4 * UNIT,
        currency="USD",
    )
    StockBatch.objects.create(
        bundle_code=BUNDLE_CODE,
        livemode=False,
        provider="sandbox",
        quantity=9,
        expected_cost_amount=9 * UNIT,
        currency="USD",
    )
    with CaptureQueriesContext(connection) as read:
        assert stock_level(bundle_code=BUNDLE_CODE, livemode=True) == 3 + 4
    assert len(read.captured_queries) == 1
    assert stock_level(bundle_code=BUNDLE_CODE, livemode=False) == 9
