"""Billing: the vendors' money flows other apps call. Amounts are `Money` here; the
postings are the ledger's (`ledger/posting.py`).

* vendor wallet top-up:   debit stripe_clearing, credit vendor wallet
* operator adjustment:    debit adjustments, credit wallet/receivable (negative: reverse)
* vendor order reserve:   hold (pending debit) on the wallet (prepaid) or receivable
                          (postpaid); capture: debit wallet/receivable, credit revenue
* vendor order refund:    debit refunds, credit wallet/receivable
* invoice settlement:     debit bank, credit receivable (`billing/invoicing.py`)

The platform's own postings (B2C payments and refunds, order costs, disputes) are the
ledger's (`ledger.services`).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Sum

from billing.accounts import vendor_ledger_account
from billing.invoicing import vendor_receivable_card_payment
from billing.subvendors import (
    order_margin_accounts,
    order_margins_book,
    order_margins_plan,
    order_margins_reverse,
)
from ledger.models import Account, Entry, Hold, Purpose, Transaction
from ledger.posting import (
    accounts_lock,
    hold_capture,
    hold_create,
    hold_void,
    ledger_lock,
    ledger_post,
    positive,
)
from ledger.services import order_cost_record, platform_account
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor


def _check_currency(vendor: Vendor, amount: Money) -> None:
    if amount.currency != vendor.currency:
        raise DomainError(
            "validation_error",
            f"the vendor is billed in {vendor.currency}, not {amount.currency}",
        )


def vendor_account(*, vendor: Vendor, currency: str | None = None) -> Account:
    """The account a vendor's orders draw on: the wallet (prepaid) or receivable (postpaid)."""
    return vendor_ledger_account(vendor=vendor, currency=currency)


def vendor_wallet_topup_credit(
    *, vendor: Vendor, amount: Money, reference: str, invoice_id: int | None = None
) -> Transaction:
    """Stripe confirmed a vendor's card payment: a prepaid vendor's wallet is credited; a
    postpaid vendor's receivable is, settling its open invoices (`invoice_id` first, then
    the oldest). Idempotent on reference."""
    _check_currency(vendor, amount)
    if vendor.billing_mode == Vendor.BillingMode.POSTPAID:
        return vendor_receivable_card_payment(
            vendor=vendor, amount=amount, reference=reference, invoice_id=invoice_id
        )
    value = positive(amount, amount.currency)
    wallet = vendor_ledger_account(vendor=vendor, purpose=Purpose.WALLET, currency=amount.currency)
    clearing = platform_account(Purpose.STRIPE_CLEARING, amount.currency, vendor.livemode)
    return ledger_post(
        reference=reference,
        entries=[(clearing, value), (wallet, -value)],
        kind=Transaction.Kind.WALLET_TOPUP,
        description="Wallet top-up",
        metadata={"vendor_id": vendor.id},
    )


def vendor_wallet_topup_refund(
    *,
    vendor: Vendor,
    amount: Money,
    reference: str,
    kind: str = Transaction.Kind.WALLET_TOPUP_REFUND,
    description: str = "Wallet top-up refunded to the card",
) -> tuple[Transaction, Money]:
    """A vendor's card payment went back to its card (a refund, or a dispute's withdrawal
    with `kind`): the money leaves Stripe and the wallet (prepaid), or the receivable owes
    it again (postpaid). What the wallet no longer holds (spent or reserved since), or
    what the credit line has no room for, is booked on `adjustments`, the platform's loss
    until operators collect it, and returned as the shortfall. Idempotent on reference."""
    _check_currency(vendor, amount)
    value = positive(amount, amount.currency)
    postpaid = vendor.billing_mode == Vendor.BillingMode.POSTPAID
    wallet = vendor_ledger_account(
        vendor=vendor,
        purpose=Purpose.RECEIVABLE if postpaid else Purpose.WALLET,
        currency=amount.currency,
    )
    clearing = platform_account(Purpose.STRIPE_CLEARING, amount.currency, vendor.livemode)
    adjustments = platform_account(Purpose.ADJUSTMENTS, amount.currency, vendor.livemode)
    with transaction.atomic():
        locked = accounts_lock([wallet.id])[wallet.id]
        existing = Transaction.objects.filter(reference=reference).first()
        if existing is not None:
            return existing, Money(int(existing.metadata.get("shortfall", 0)), amount.currency)
        if postpaid:  # room left on the credit line
            room = (locked.ceiling or 0) - locked.cached_balance - locked.held
        else:  # what the wallet still holds
            room = locked.cached_balance - locked.held
        taken = max(0, min(value, room))
        shortfall = value - taken
        entries = [(clearing, -value), (wallet, taken), (adjustments, shortfall)]
        txn = ledger_post(
            reference=reference,
            entries=[(account, leg) for account, leg in entries if leg],
            kind=kind,
            description=description,
            metadata={"vendor_id": vendor.id, "shortfall": shortfall},
        )
    return txn, Money(shortfall, amount.currency)


def vendor_adjustment(
    *,
    vendor: Vendor,
    amount: Money,
    reason: str,
    actor: Any,
    reference: str | None = None,
) -> Transaction:
    """Operator credit (amount > 0: in the vendor's favour) or debit (amount < 0), with the
    reason and the operator recorded on the transaction (the audit trail)."""
    _check_currency(vendor, amount)
    if amount.amount == 0:
        raise DomainError("validation_error", "an adjustment cannot be zero")
    if not reason.strip():
        raise DomainError("validation_error", "an adjustment needs a reason")
    target = vendor_account(vendor=vendor, currency=amount.currency)
    adjustments = platform_account(Purpose.ADJUSTMENTS, amount.currency, vendor.livemode)
    return ledger_post(
        reference=reference or f"adjustment:{uuid.uuid4()}",
        entries=[(adjustments, amount.amount), (target, -amount.amount)],
        kind=Transaction.Kind.ADJUSTMENT,
        description=reason.strip()[:500],
        actor=actor,
        metadata={"vendor_id": vendor.id, "reason": reason.strip()},
    )


def vendor_credit_limit_set(*, vendor: Vendor, limit: Money, actor: Any = None) -> None:
    """Copy a new credit limit onto the receivable's ceiling (the DB-checked bound).

    A limit below what is already owed plus reserved is refused (`invalid_state`): the
    CHECK constraint keeps every receivable within its ceiling at all times."""
    _check_currency(vendor, limit)
    if limit.amount < 0:
        raise DomainError("validation_error", "a credit limit cannot be negative")
    receivable = vendor_ledger_account(
        vendor=vendor, purpose=Purpose.RECEIVABLE, currency=limit.currency
    )
    with transaction.atomic():
        locked = accounts_lock([receivable.id])[receivable.id]
        used = locked.cached_balance + locked.held
        if limit.amount < used:
            raise DomainError(
                "invalid_state",
                "The new credit limit is below what the vendor owes and has reserved.",
                details={"in_use": Money(used, limit.currency).to_api()},
            )
        Account.objects.filter(id=locked.id).update(ceiling=limit.amount)


def vendor_order_reserve(
    *, vendor: Vendor, order_id: int, amount: Money, level_totals: list[Money] | None = None
) -> Hold:
    """Reserve an order's price: a hold on the wallet (prepaid, else `insufficient_funds`)
    or on the receivable's credit line (postpaid, else `credit_limit_exceeded`). A
    sub-vendor's order also records each level's margin (`level_totals`: the order's
    total at each level's price, top vendor first), booked when it is captured.

    Call it inside the order's own `transaction.atomic()` so the order and the hold commit
    (or roll back) together."""
    _check_currency(vendor, amount)
    account = vendor_account(vendor=vendor, currency=amount.currency)
    hold = hold_create(
        account=account,
        amount=amount,
        reference=f"order:{order_id}:reserve",
        order_id=order_id,
        counter_account=platform_account(Purpose.REVENUE, amount.currency, vendor.livemode),
    )
    if vendor.parent_id is not None and level_totals:
        order_margins_plan(vendor=vendor, order_id=order_id, level_totals=level_totals)
    return hold


def _order_hold(order_id: int) -> Hold | None:
    return Hold.objects.filter(order_id=order_id).select_related("account").order_by("-id").first()


def vendor_order_capture(
    *,
    order_id: int,
    cost: Money | None = None,
    amount: Money | None = None,
    metadata: dict[str, Any] | None = None,
) -> Transaction:
    """The eSIM was delivered: capture the order's hold (wallet/receivable -> revenue) and,
    with `cost`, record the cost of goods. Safe to call again: returns the same charge."""
    hold = _order_hold(order_id)
    if hold is None:
        raise DomainError("invalid_state", f"order {order_id} has no reservation")
    # hold_capture locks in the ledger's order (the hold, then the vendor's account); the
    # platform accounts both postings touch are never locked. A sub-vendor's order pays
    # the levels above it their margins: their accounts are locked with the buyer's, in
    # one batch in the ledger's order, so a transfer between the same wallets never waits
    # on this capture the other way round.
    margins = order_margin_accounts(order_id=order_id)
    with transaction.atomic():
        if margins:
            ledger_lock(holds=[hold.id], accounts=[hold.account_id, *(a for _, a in margins)])
        charge = hold_capture(
            hold=hold,
            amount=amount,
            reference=f"order:{order_id}:charge",
            kind=Transaction.Kind.ORDER_CHARGE,
            description=f"Order {order_id}",
            metadata={**(metadata or {}), "order_id": order_id},
        )
        if margins:
            captured = charge.entries.filter(amount__gt=0).get().amount
            order_margins_book(order_id=order_id, hold=hold, captured=captured, margins=margins)
        if cost is not None and cost.amount > 0:
            order_cost_record(
                cost=cost,
                reference=f"order:{order_id}:cost",
                order_id=order_id,
                livemode=hold.account.livemode,
            )
    return charge


def vendor_order_void(*, order_id: int) -> Hold | None:
    """Provisioning failed: release the order's reservation (None if it never had one)."""
    hold = _order_hold(order_id)
    if hold is None:
        return None
    return hold_void(hold=hold)


def _order_charge_leg(order_id: int) -> Entry:
    """The charge's debit of the vendor's wallet / receivable; invalid_state if none."""
    charge = Transaction.objects.filter(
        order_id=order_id, kind=Transaction.Kind.ORDER_CHARGE
    ).first()
    if charge is None:
        raise DomainError("invalid_state", f"order {order_id} was not charged")
    return charge.entries.select_related("account", "transaction").filter(amount__gt=0).get()


def _order_refundable(order_id: int, leg: Entry) -> int:
    refunded = (
        Transaction.objects.filter(order_id=order_id, kind=Transaction.Kind.ORDER_REFUND)
        .filter(entries__account=leg.account)
        .aggregate(total=Sum("entries__amount"))["total"]
        or 0
    )
    return leg.amount + refunded  # refund legs credit the account: negative


def vendor_order_charged(*, order_id: int) -> Money:
    """What a vendor order was charged (its capture)."""
    leg = _order_charge_leg(order_id)
    return Money(leg.amount, leg.account.currency)


def vendor_order_refundable(*, order_id: int) -> Money:
    """What of a charged vendor order can still be refunded: its charge less its refunds."""
    leg = _order_charge_leg(order_id)
    return Money(_order_refundable(order_id, leg), leg.account.currency)


def vendor_order_refund_posted(*, reference: str) -> Money | None:
    """What the order refund posted under `reference` gave back; None if there is none."""
    txn = Transaction.objects.filter(
        reference=reference, kind=Transaction.Kind.ORDER_REFUND
    ).first()
    if txn is None:
        return None
    leg = txn.entries.select_related("account").filter(amount__gt=0).get()
    return Money(leg.amount, leg.account.currency)


def vendor_order_refund(
    *, order_id: int, amount: Money, reference: str, actor: Any = None
) -> Transaction:
    """Give a charged order's money back to the wallet / off the receivable. The refunds of
    an order never exceed its charge. Idempotent on reference. `actor`: the operator who
    gave it (kept on the transaction; reconciliation tells deliberate refunds by it)."""
    existing = Transaction.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    debit_leg = _order_charge_leg(order_id)
    charge = debit_leg.transaction
    account = debit_leg.account
    value = positive(amount, account.currency)
    refunds = platform_account(Purpose.REFUNDS, account.currency, account.livemode)
    # A sub-vendor's order takes each level's margin back too: the levels' accounts are
    # locked with the buyer's in one batch, in the ledger's order, as the capture does.
    margins = order_margin_accounts(order_id=order_id)
    with transaction.atomic():
        # Lock first so two refunds of one order cannot both pass the limit check.
        accounts_lock([account.id, *(a for _, a in margins)])
        if Transaction.objects.filter(reference=reference).exists():
            return Transaction.objects.get(reference=reference)
        refundable = _order_refundable(order_id, debit_leg)
        if value > refundable:
            raise DomainError(
                "validation_error",
                "The refund exceeds what the order was charged.",
                details={"refundable": Money(refundable, account.currency).to_api()},
            )
        txn = ledger_post(
            reference=reference,
            entries=[(refunds, value), (account, -value)],
            kind=Transaction.Kind.ORDER_REFUND,
            description=f"Refund of order {order_id}",
            order_id=order_id,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            metadata={**charge.metadata, "vendor_id": account.holder},
        )
        if margins:
            order_margins_reverse(
                order_id=order_id,
                charged=debit_leg.amount,
                refunded=debit_leg.amount - refundable + value,
                livemode=account.livemode,
            )
        return txn
