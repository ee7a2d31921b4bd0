"""One transition table per status column (issue 27): eSIMs, eSIM refunds, provider
refunds, auto top-up runs, webhook deliveries, inbound events and tickets move only
through their `StateTable` and `ttelgo.state`'s compare-and-set. Each table lets every
move it declares happen and refuses every other; two concurrent moves of one row have
one winner; and no service writes a status column any other way."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, models
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.state import INVOICE_STATES
from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.auto_topups.state import AUTO_TOPUP_RUN_STATES
from fulfilment.models import Esim, EsimRefund, ProviderRefund
from fulfilment.state import (
    ESIM_IN_SERVICE,
    ESIM_REFUND_STATES,
    ESIM_STATES,
    PROVIDER_REFUND_STATES,
    esim_transition,
)
from fulfilment.stock.models import StockBatch, StockEsim
from fulfilment.stock.state import STOCK_BATCH_STATES, STOCK_ESIM_STATES
from iot.models import IotBulkJob, IotSim, IotSms, IotTopup
from iot.state import BULK_JOB_STATES, SIM_STATES, SMS_STATES, TOPUP_STATES
from ledger.models import Purpose
from orders.models import Order
from payments.models import Payment, Refund
from payments.services import REFUND_STATES
from portal.models import BulkOrder
from portal.state import BULK_ORDER_STATES
from reconciliation.models import ReconciliationFinding, ReconciliationRun
from reconciliation.state import FINDING_STATES, RUN_STATES
from support.models import Ticket
from support.state import TICKET_STATES
from tests.console.factories import order_row
from tests.factories import UserFactory, VendorFactory
from tests.webhooks.factories import endpoint_for
from ttelgo.errors import DomainError
from ttelgo.state import StateTable, transition_rows
from webhooks.models import InboundEvent, WebhookDelivery, WebhookEvent
from webhooks.state import DELIVERY_STATES, INBOUND_STATES

_serial = itertools.count(1)


def _iccid() -> str:
    return f"8944{next(_serial):015d}"


def _esim(status: str = Esim.Status.RELEASED, order: Order | None = None) -> Esim:
    return Esim.objects.create(
        order=order or order_row(),
        iccid=_iccid(),
        bundle_code="gb_1gb",
        smdp_address="rsp.example",
        matching_id="M",
        status=status,
    )


def _esim_refund(status: str) -> EsimRefund:
    esim = _esim()
    return EsimRefund.objects.create(
        esim=esim,
        order=esim.order,
        amount=500,
        currency="USD",
        reason="r",
        requested_by="customer:1",
        status=status,
    )


def _provider_refund(status: str) -> ProviderRefund:
    return ProviderRefund.objects.create(
        order=order_row(),
        iccid=_iccid(),
        bundle_code="gb_1gb",
        amount=300,
        currency="USD",
        status=status,
    )


def _auto_topup_run(status):
    vendor = VendorFactory()
    esim = _esim(order=order_row(channel=Order.Channel.B2B, vendor=vendor))
    rule = AutoTopupRule.objects.create(vendor=vendor, bundle_code="gb_1gb", below_percent=20)
    return AutoTopupRun.objects.create(rule=rule, esim=esim, trigger="data:1:20", status=status)


def _stock_batch(status: str) -> StockBatch:
    return StockBatch.objects.create(
        bundle_code="gb_1gb", quantity=1, expected_cost_amount=139, currency="USD", status=status
    )


def _stock_esim(status: str) -> StockEsim:
    sold = status == StockEsim.Status.SOLD
    return StockEsim.objects.create(
        iccid=_iccid(),
        bundle_code="gb_1gb",
        smdp_address="rsp.example",
        matching_id="M",
        cost_amount=139,
        currency="USD",
        purchased_at=timezone.now(),
        status=status,
        esim=_esim() if sold else None,
        sold_at=timezone.now() if sold else None,
    )


def _delivery(status):
    vendor = VendorFactory(status="active")
    endpoint, _ = endpoint_for(vendor)
    event = WebhookEvent.objects.create(
        vendor=vendor,
        public_id=f"msg_{next(_serial)}",
        type="order.completed",
        created_at=timezone.now(),
    )
    return WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, vendor=vendor, status=status
    )


def _inbound(status: str) -> InboundEvent:
    return InboundEvent.objects.create(
        source=InboundEvent.Source.STRIPE,
        event_id=f"evt_{next(_serial)}",
        event_type="payment_intent.succeeded",
        payload={},
        status=status,
    )


def _invoice(status):
    vendor = VendorFactory()
    return Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE),
        period_start=date(2026, 1, 1),
        period_end=date(2026, 1, 31),
        currency="USD",
        total=1000,
        opening_balance=0,
        closing_balance=1000,
        due_date=date(2026, 2, 14),
        status=status,
    )


def _card_refund(status):
    order = order_row()
    payment = Payment.objects.create(
        kind=Payment.Kind.ORDER,
        payment_intent_id=f"pi_{next(_serial)}",
        amount=1000,
        currency="USD",
        status=Payment.Status.SUCCEEDED,
        order=order,
    )
    return Refund.objects.create(payment=payment, amount=500, currency="USD", status=status)


def _run(status):
    return ReconciliationRun.objects.create(status=status, window_start=timezone.now())


def _finding(status):
    return ReconciliationFinding.objects.create(
        run=_run(ReconciliationRun.Status.COMPLETED),
        category=ReconciliationFinding.Category.choices[0][0],
        code="c",
        message="m",
        status=status,
        resolution="done",  # a resolved finding says what was done
    )


def _ticket(status):
    return Ticket.objects.create(customer=UserFactory(), subject="s", status=status)


def _iot_sim(status):
    return IotSim.objects.create(
        vendor=VendorFactory(), iccid=f"8988{next(_serial):015d}", status=status
    )


def _iot_sms(status):
    sim = _iot_sim("enabled")
    return IotSms.objects.create(
        vendor=sim.vendor, sim=sim, direction="mt", text="t", status=status
    )


def _iot_topup(status):
    sim = _iot_sim("enabled")
    return IotTopup.objects.create(
        vendor=sim.vendor, sim=sim, price_amount=1, cost_amount=1, currency="USD", status=status
    )


def _bulk_order(status):
    return BulkOrder.objects.create(
        vendor=VendorFactory(), livemode=True, file_sha256="0" * 64, rows=[], status=status
    )


def _iot_job(status):
    return IotBulkJob.objects.create(vendor=VendorFactory(), action="disable", status=status)


# table, its model, the column's choices, a maker of one row in a given status
TABLES: list[tuple[StateTable, type[models.Model], list[str], Callable[[str], Any]]] = [
    (ESIM_STATES, Esim, Esim.Status.values, lambda s: _esim(s)),
    (ESIM_REFUND_STATES, EsimRefund, EsimRefund.Status.values, _esim_refund),
    (PROVIDER_REFUND_STATES, ProviderRefund, ProviderRefund.Status.values, _provider_refund),
    (AUTO_TOPUP_RUN_STATES, AutoTopupRun, AutoTopupRun.Status.values, _auto_topup_run),
    (STOCK_ESIM_STATES, StockEsim, StockEsim.Status.values, _stock_esim),
    (STOCK_BATCH_STATES, StockBatch, StockBatch.Status.values, _stock_batch),
    (DELIVERY_STATES, WebhookDelivery, WebhookDelivery.Status.values, _delivery),
    (INBOUND_STATES, InboundEvent, InboundEvent.Status.values, _inbound),
    (TICKET_STATES, Ticket, Ticket.Status.values, _ticket),
    (INVOICE_STATES, Invoice, Invoice.Status.values, _invoice),
    (REFUND_STATES, Refund, Refund.Status.values, _card_refund),
    (RUN_STATES, ReconciliationRun, ReconciliationRun.Status.values, _run),
    (FINDING_STATES, ReconciliationFinding, ReconciliationFinding.Status.values, _finding),
    (SIM_STATES, IotSim, IotSim.Status.values, _iot_sim),
    (SMS_STATES, IotSms, IotSms.Status.values, _iot_sms),
    (TOPUP_STATES, IotTopup, IotTopup.Status.values, _iot_topup),
    (BULK_JOB_STATES, IotBulkJob, IotBulkJob.Status.values, _iot_job),
    (BULK_ORDER_STATES, BulkOrder, BulkOrder.Status.values, _bulk_order),
]
IDS = [table.name for table, *_ in TABLES]


@pytest.mark.parametrize(("table", "model", "choices", "make"), TABLES, ids=IDS)
def test_each_table_names_every_status_of_its_column_and_no_other(table, model, choices, make):
    assert set(table.allowed) == set(choices)
    for targets in table.allowed.values():
        assert targets <= set(choices)
    for starts in table.actions.values():
        assert starts <= set(choices)


def test_the_in_service_statuses_are_one_definition_derived_from_the_table():
    """Still usable: not at an end the table declares (revoked), not used up or over."""
    assert set(ESIM_IN_SERVICE) == {"released", "installed", "active"}
    assert Esim.Status.REVOKED in ESIM_STATES.terminal
    for status in ESIM_IN_SERVICE:
        assert ESIM_STATES.can(status, Esim.Status.REVOKED)


def _move(table: StateTable, model: type[models.Model], row: Any, to: str) -> None:
    if table is ESIM_STATES:  # the eSIM's own helper: read, check, compare-and-set
        esim_transition(esim_id=row.pk, to=to, expected=row.status)
        return
    fields: dict[str, Any] = {}
    if table is STOCK_ESIM_STATES and to == StockEsim.Status.SOLD:  # a sale names its eSIM
        fields = {"esim": _esim(), "sold_at": timezone.now()}
    moved = transition_rows(
        model._default_manager.filter(pk=row.pk),
        table=table,
        to=to,
        expected=row.status,
        **fields,
    )
    assert moved == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "model", "choices", "make"), TABLES, ids=IDS)
def test_every_declared_move_happens_and_every_other_is_refused(table, model, choices, make):
    for source, target in itertools.product(choices, choices):
        if source == target:
            continue
        row = make(source)
        if table.can(source, target):
            _move(table, model, row, target)
            row.refresh_from_db()
            assert row.status == target, (source, target)
        else:
            with pytest.raises(DomainError) as caught:
                _move(table, model, row, target)
            assert caught.value.code == "invalid_state", (source, target)
            row.refresh_from_db()
            assert row.status == source, (source, target)


@pytest.mark.django_db
def test_a_conditional_move_counts_only_the_rows_still_where_it_expects_them():
    """The row count decides: a row that already moved is not moved again (0), however the
    caller read it."""
    delivery = _delivery(WebhookDelivery.Status.PENDING)
    rows = WebhookDelivery.objects.filter(pk=delivery.pk)
    first = transition_rows(rows, table=DELIVERY_STATES, to="succeeded", expected="pending")
    second = transition_rows(rows, table=DELIVERY_STATES, to="failed", expected="pending")
    assert (first, second) == (1, 0)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def _race(move: Callable[[str], str], targets: list[str]) -> list[str]:
    """One thread per target, each on its own PostgreSQL connection, released together;
    the outcomes, sorted."""
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(to: str) -> None:
        try:
            barrier.wait()
            outcome = move(to)
        except DomainError as exc:
            outcome = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(to,)) for to in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_of_one_esim_have_exactly_one_winner():
    """Four callers move one released eSIM at once (two revoke it, two report its first
    use), each having read it released: the compare-and-set lets exactly one through; the
    others get invalid_state and write nothing."""
    for _ in range(5):
        esim = _esim(Esim.Status.RELEASED)

        def move(to: str, esim_id: int = esim.pk) -> str:
            moved = esim_transition(esim_id=esim_id, to=to, expected=Esim.Status.RELEASED)
            return f"won:{moved.status}"

        outcomes = _race(move, ["revoked", "revoked", "active", "active"])
        assert outcomes[:3] == ["invalid_state"] * 3
        esim.refresh_from_db()
        assert outcomes[3] == f"won:{esim.status}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_of_one_webhook_delivery_have_exactly_one_winner():
    """An attempt's success and its endpoint's deletion (pending -> succeeded, pending ->
    failed), four at once on one pending delivery: one conditional update changes the row,
    the others count 0 rows and change nothing."""
    for _ in range(5):
        delivery = _delivery(WebhookDelivery.Status.PENDING)

        def move(to: str, pk: int = delivery.pk) -> str:
            rows = WebhookDelivery.objects.filter(pk=pk)
            moved = transition_rows(
                rows, table=DELIVERY_STATES, to=to, expected="pending", last_error=to
            )
            return f"won:{to}" if moved else "lost"

        outcomes = _race(move, ["succeeded", "failed", "succeeded", "failed"])
        assert outcomes[:3] == ["lost"] * 3
        delivery.refresh_from_db()
        assert outcomes[3] == f"won:{delivery.status}"
        assert delivery.last_error == delivery.status  # the winner's fields, no one else's


# --- no status column is written outside its table ---------------------------------------

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "billing",
    "catalogue",
    "console",
    "esims",
    "fulfilment",
    "iot",
    "ledger",
    "orders",
    "payments",
    "portal",
    "providers",
    "reconciliation",
    "sandbox",
    "support",
    "ttelgo",
    "vendors",
    "webhooks",
]
# The state modules themselves: the tables and the one compare-and-set.
STATE_MODULES = re.compile(r"(^|/)([a-z_]+_)?state\.py$")
# Status columns not (yet) under a table, each for a reason. A file leaves this list when
# its column moves under a table; a new entry needs a reason as good.
ALLOWED: dict[str, str] = {
    # The sandbox's stand-in for Stripe's PaymentIntent: the gateway's state, simulated,
    # not a column of ours (the payment it stands for moves through PAYMENT_STATES).
    "sandbox/stripe.py": "simulated gateway state",
    "sandbox/gateway.py": "simulated gateway state",
    # Not under a table yet, each already a compare-and-set: the ledger's holds (pending
    # -> captured | voided, conditional updates beside its hand-written SQL) and
    # idempotency keys (in_progress -> completed, by hand-written SQL).
    "ledger/posting.py": "holds: conditional updates",
    "ttelgo/idempotency.py": "idempotency keys: conditional updates",
    # `self.status` of an exception: the HTTP status it answers with, not a column.
    "providers/base.py": "ProviderError.status",
    "ttelgo/errors.py": "DomainError.status",
}
WRITES = [
    re.compile(r"\.status\s*=(?!=)"),  # an attribute assignment, saved later
    re.compile(r"update_fields=\[[^\]]*[\"']status[\"']"),  # ... and its save
    re.compile(r"\.update\((?:[^()]|\([^()]*\))*?\bstatus\s*=", re.S),  # an UPDATE
]


def _status_writes(text: str) -> list[int]:
    lines = []
    for pattern in WRITES:
        for match in pattern.finditer(text):
            lines.append(text.count("\n", 0, match.start()) + 1)
    return sorted(set(lines))


def test_the_scan_sees_each_way_of_writing_a_status():
    assert _status_writes("row.status = 'x'\nrow.save()") == [1]
    assert _status_writes('a\nrow.save(update_fields=["order", "status"])') == [2]
    assert _status_writes("X.objects.filter(pk=1).update(\n    status=S.FAILED, at=now()\n)") == [1]
    assert _status_writes("X.objects.filter(status=S.OPEN).update(seen=F('n') + 1)") == []
    assert _status_writes("if row.status == S.OPEN:\n    x.update(email_status='sent')") == []


def test_no_service_writes_a_status_column_outside_its_transition_table():
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or STATE_MODULES.search(relative):
                continue
            if relative in ALLOWED:
                continue
            text = path.read_text()
            found += [f"{relative}:{n}" for n in _status_writes(text)]
    assert found == []
