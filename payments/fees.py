"""Card fees and payouts: what the gateway keeps of our money and what it pays out.

Every gross movement at the gateway (a charge, a refund, a dispute's withdrawal or
reinstatement) is booked on `stripe_clearing` by the payment services when it happens.
The gateway's fee for each is known only from its balance transaction, read here after
the movement's own transaction committed (an outbox task, never HTTP inside a DB
transaction) and by a beat sweep that catches any the task missed. Each fee is booked
once per balance transaction id (`card_fee:<txn id>`), so clearing ends equal to what
the gateway will pay out; each paid payout is booked once (`payout:<po id>`), and
`payout_reconcile` checks a payout against what clearing holds for its transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from ledger import services as ledger
from ledger.models import Purpose
from ledger.selectors import entries_sum_by_reference
from payments.gateways import (
    GatewayBalanceTransaction,
    GatewayError,
    GatewayPayout,
    gateway_backend,
    get_gateway,
)
from payments.models import Payment
from ttelgo.money import Money

logger = logging.getLogger(__name__)

# How far back the sweep reads balance transactions and payouts.
SWEEP_WINDOW = timedelta(days=3)
# Balance transaction types that move a payment's money, by what they are to us.
CHARGE_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})


def card_fee_reference(bt: GatewayBalanceTransaction) -> str:
    return f"card_fee:{bt.id}"


def card_fee_book(*, bt: GatewayBalanceTransaction, payment: Payment) -> bool:
    """Book the fee of one balance transaction of `payment` (card_fees / clearing, in the
    payment's mode). False when it has no fee. Idempotent on the balance transaction id."""
    if bt.fee == 0:
        return False
    ledger.card_fee_record(
        fee=bt.fee_money,
        reference=card_fee_reference(bt),
        order_id=payment.order_id,
        livemode=payment.livemode,
        metadata={
            "balance_transaction": bt.id,
            "type": bt.type,
            "source": bt.source,
            "payment_intent": payment.payment_intent_id,
        },
    )
    return True


def card_fees_book_for(*, payment_id: int, source: str = "") -> int:
    """Read the balance transactions of one of a payment's movements at the gateway (its
    charge when `source` is empty, else a refund or dispute id) and book their fees.
    Runs outside any transaction (gateway HTTP). One the gateway has not settled yet is
    left to `card_fees_sweep`. Returns how many carried a fee."""
    payment = Payment.objects.get(pk=payment_id)
    gateway = get_gateway(payment.livemode)
    try:
        if not source:
            intent = gateway.retrieve_payment_intent(payment.payment_intent_id)
            source = intent.latest_charge or ""
        bts = gateway.list_balance_transactions(source=source) if source else []
    except GatewayError as exc:
        if exc.code != "resource_missing":
            raise
        # Nothing the gateway knows of costs a fee; reconciliation reports the intent.
        logger.warning("card fees of payment %s: %s", payment_id, exc.message)
        return 0
    if not bts:
        # Not settled at the gateway yet (some methods settle later): the sweep books it.
        logger.info(
            "card fees of payment %s: no balance transaction for %r yet", payment_id, source
        )
    mine = [bt for bt in bts if bt.payment_intent_id in ("", payment.payment_intent_id)]
    return sum(card_fee_book(bt=bt, payment=payment) for bt in mine)


def _gateways() -> dict[str, bool]:
    """Each distinct gateway once, with the mode it serves first (live before test): when
    the simulator serves both modes, it is read once and each payment books in its own."""
    out: dict[str, bool] = {}
    for livemode in (True, False):
        out.setdefault(gateway_backend(livemode), livemode)
    return out


def card_fees_sweep(*, window: timedelta = SWEEP_WINDOW) -> int:
    """Book the fee of every balance transaction of ours the gateways show for the last
    `window` that is not booked yet (an event task lost, a fee the gateway set later).
    Returns how many balance transactions with a fee were seen."""
    since = int((timezone.now() - window).timestamp())
    seen = 0
    for livemode in _gateways().values():
        bts = [
            bt
            for bt in get_gateway(livemode).list_balance_transactions(
                created_gte=since, limit=10_000
            )
            if bt.fee and bt.payment_intent_id
        ]
        payments = {
            p.payment_intent_id: p
            for p in Payment.objects.filter(
                payment_intent_id__in={bt.payment_intent_id for bt in bts}
            )
        }
        for bt in bts:
            payment = payments.get(bt.payment_intent_id)
            if payment is None:
                continue  # not ours: reconciliation reports the intent itself
            seen += card_fee_book(bt=bt, payment=payment)
    return seen


def payout_reference(payout: GatewayPayout) -> str:
    return f"payout:{payout.id}"


def payouts_record(*, window: timedelta = SWEEP_WINDOW) -> int:
    """Book every payout the live gateway paid in the last `window` (bank / clearing),
    once each. Returns how many paid payouts were seen."""
    since = int((timezone.now() - window).timestamp())
    paid = [po for po in get_gateway(True).list_payouts(created_gte=since) if po.status == "paid"]
    for po in paid:
        ledger.payout_record(
            amount=Money(po.amount, po.currency),
            reference=payout_reference(po),
            metadata={"payout": po.id},
        )
    return len(paid)


def gross_reference(bt: GatewayBalanceTransaction, payment: Payment | None) -> str | None:
    """The ledger reference the payment services booked this balance transaction's gross
    movement under (see payments.services), or None when it is not a movement of ours."""
    if bt.type in CHARGE_TYPES:
        if payment is None:
            return None
        if payment.kind == Payment.Kind.ORDER:
            return f"payment:{payment.payment_intent_id}:captured"
        return f"wallet_topup:{payment.payment_intent_id}"
    if bt.type in REFUND_TYPES:
        return f"refund:{bt.source}"
    if bt.source.startswith("dp_"):
        return f"dispute:{bt.source}:{'withdrawn' if bt.amount < 0 else 'reinstated'}"
    return None


@dataclass
class PayoutLine:
    """One balance transaction of a payout: what the gateway moved (net) and what our
    clearing account holds for it (gross and fee as booked)."""

    bt: GatewayBalanceTransaction
    booked: int
    references: list[str]

    @property
    def difference(self) -> int:
        return self.booked - self.bt.net


@dataclass
class PayoutReconciliation:
    payout: GatewayPayout
    lines: list[PayoutLine] = field(default_factory=list)
    booked: int = 0  # what clearing holds for the payout's transactions
    payout_booked: bool = False

    @property
    def mismatched(self) -> list[PayoutLine]:
        return [line for line in self.lines if line.difference]

    @property
    def difference(self) -> int:
        return self.booked - self.payout.amount


def payout_reconcile(*, payout: GatewayPayout) -> PayoutReconciliation:
    """Compare one payout with the live ledger: for each of its balance transactions, the
    gross movement and the fee booked on stripe_clearing must come to the transaction's
    net; together they must come to the payout. Reads the gateway (no transaction)."""
    bts = [
        bt
        for bt in get_gateway(True).list_balance_transactions(payout=payout.id, limit=10_000)
        if bt.type != "payout"
    ]
    payments = {
        p.payment_intent_id: p
        for p in Payment.objects.filter(payment_intent_id__in={bt.payment_intent_id for bt in bts})
    }
    refs: dict[str, list[str]] = {}
    for bt in bts:
        gross = gross_reference(bt, payments.get(bt.payment_intent_id))
        refs[bt.id] = [r for r in (gross, card_fee_reference(bt) if bt.fee else None) if r]
    all_refs = [r for rs in refs.values() for r in rs] + [payout_reference(payout)]
    sums = entries_sum_by_reference(references=all_refs, purpose=Purpose.STRIPE_CLEARING)
    result = PayoutReconciliation(payout=payout, payout_booked=payout_reference(payout) in sums)
    for bt in bts:
        booked = sum(sums.get(r, 0) for r in refs[bt.id])
        result.lines.append(PayoutLine(bt=bt, booked=booked, references=refs[bt.id]))
        result.booked += booked
    return result
