"""Ledger services: the platform's own postings. Amounts are `Money` here, ints below
(see `ledger/posting.py` for the core). Vendor money flows are the billing app's.

* order cost:             debit cogs, credit provider_payable
* provider refund due:    debit provider_refund_receivable, credit cogs (a bundle the
                          provider took back; what it cost us is owed back)
* provider refund in:     debit provider_payable, credit provider_refund_receivable (the
                          provider shows the bundle refunded to our balance)
* stock bought:           debit inventory, credit provider_payable (eSIMs bought ahead)
* stock sold:             debit cogs, credit inventory (one stock eSIM's cost, at its sale)
* stock refund due:       debit provider_refund_receivable, credit inventory (aged stock
                          given back to the provider before its refund window closes)
* stock written off:      debit adjustments, credit inventory (stock that can no longer
                          be sold or refunded; the reason is kept in the metadata)
* B2C payment captured:   debit stripe_clearing, credit revenue
* B2C refund:             debit refunds, credit stripe_clearing
* dispute reinstated:     the reverse of the withdrawal
* card fee:               debit card_fees, credit stripe_clearing (a fee the gateway
                          gave back: the reverse), once per gateway balance transaction
* payout:                 debit bank, credit stripe_clearing (the gateway paid our
                          balance out to the bank)
* sale tax:               debit revenue, credit tax_payable (the VAT part of a
                          tax-inclusive sale the revenue posting took in whole)
* FX conversion:          money of one platform account changing currency, through the
                          fx account: debit <account> in the new currency, credit fx in
                          it; debit fx in the old one, credit <account> in it (each
                          currency balances on its own)
* sale tax reversed:      debit tax_payable, credit refunds (a taxed sale refunded in
                          full)

With every gross movement and every fee booked, stripe_clearing holds what the gateway
will pay out next.
"""

from __future__ import annotations

from ledger.models import Account, Purpose, Transaction
from ledger.posting import (
    _positive,
    account_get_or_create,
    accounts_lock,
    hold_capture,
    hold_create,
    hold_void,
    ledger_lock,
    ledger_post,
)
from ttelgo.errors import DomainError
from ttelgo.money import Money

__all__ = [
    "account_get_or_create",
    "accounts_lock",
    "b2c_payment_captured",
    "b2c_refund",
    "card_fee_record",
    "dispute_reinstated",
    "fx_conversion_record",
    "hold_capture",
    "hold_create",
    "hold_void",
    "ledger_lock",
    "ledger_post",
    "order_cost_record",
    "payout_record",
    "platform_account",
    "provider_refund_due",
    "provider_refund_received",
    "sale_tax_record",
    "sale_tax_reverse",
    "stock_purchase_record",
    "stock_refund_due",
    "stock_sale_cost_record",
    "stock_write_off",
]


def platform_account(purpose: str, currency: str, livemode: bool = True) -> Account:
    """A platform account (revenue, clearing, ...), created on first use; `livemode=False`
    is its test-mode twin, which only test-mode vendors' postings reach."""
    return account_get_or_create(purpose=purpose, currency=currency, livemode=livemode)


# --- B2C (called by payments) -----------------------------------------------------------


def b2c_payment_captured(
    *, amount: Money, reference: str, order_id: int | None = None
) -> Transaction:
    """A customer's card payment succeeded: stripe_clearing / revenue."""
    value = _positive(amount, amount.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.STRIPE_CLEARING, amount.currency), value),
            (platform_account(Purpose.REVENUE, amount.currency), -value),
        ],
        kind=Transaction.Kind.B2C_PAYMENT,
        description="Card payment",
        order_id=order_id,
    )


def b2c_refund(
    *,
    amount: Money,
    reference: str,
    order_id: int | None = None,
    kind: str = Transaction.Kind.B2C_REFUND,
    description: str = "Card refund",
) -> Transaction:
    """A customer's card payment was refunded (or, with `kind`, its money withdrawn by a
    dispute until the dispute is won, `dispute_reinstated`): refunds / stripe_clearing."""
    value = _positive(amount, amount.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.REFUNDS, amount.currency), value),
            (platform_account(Purpose.STRIPE_CLEARING, amount.currency), -value),
        ],
        kind=kind,
        description=description,
        order_id=order_id,
    )


def dispute_reinstated(*, withdrawal_reference: str, reference: str) -> Transaction | None:
    """A dispute was won and Stripe gave the money back: the mirror image of the withdrawal
    (whatever it moved: refunds, or the wallet and adjustments). None if no withdrawal was
    recorded. Idempotent on reference."""
    withdrawal = Transaction.objects.filter(reference=withdrawal_reference).first()
    if withdrawal is None:
        return None
    legs = [(e.account, -e.amount) for e in withdrawal.entries.select_related("account")]
    return ledger_post(
        reference=reference,
        entries=legs,
        kind=Transaction.Kind.DISPUTE_REINSTATEMENT,
        description="Disputed payment reinstated",
        order_id=withdrawal.order_id,
        metadata=withdrawal.metadata,
    )


def order_cost_record(
    *, cost: Money, reference: str, order_id: int, livemode: bool = True
) -> Transaction:
    """What the provider charges us for an order: cogs / provider_payable."""
    value = _positive(cost, cost.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.COGS, cost.currency, livemode), value),
            (platform_account(Purpose.PROVIDER_PAYABLE, cost.currency, livemode), -value),
        ],
        kind=Transaction.Kind.ORDER_COST,
        description=f"Provider cost of order {order_id}",
        order_id=order_id,
    )


def provider_refund_due(
    *, cost: Money, reference: str, order_id: int, livemode: bool = True
) -> Transaction:
    """The provider took a bundle back and is to refund what it cost us: the cost leaves
    cogs and waits on provider_refund_receivable until it arrives. Idempotent on
    reference."""
    value = _positive(cost, cost.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.PROVIDER_REFUND_RECEIVABLE, cost.currency, livemode), value),
            (platform_account(Purpose.COGS, cost.currency, livemode), -value),
        ],
        kind=Transaction.Kind.ORDER_COST_REVERSAL,
        description=f"Provider to refund a revoked bundle of order {order_id}",
        order_id=order_id,
    )


def provider_refund_received(
    *,
    amount: Money,
    reference: str,
    order_id: int | None,
    livemode: bool = True,
    description: str = "",
) -> Transaction:
    """The provider's refund arrived (credited to our balance with it): what we owe it
    falls and the receivable is settled. Idempotent on reference. Stock given back has no
    order (`order_id=None`, its own description)."""
    value = _positive(amount, amount.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.PROVIDER_PAYABLE, amount.currency, livemode), value),
            (
                platform_account(Purpose.PROVIDER_REFUND_RECEIVABLE, amount.currency, livemode),
                -value,
            ),
        ],
        kind=Transaction.Kind.PROVIDER_REFUND,
        description=description or f"Provider refunded a revoked bundle of order {order_id}",
        order_id=order_id,
    )


# --- Ready stock (called by fulfilment.stock) --------------------------------------------


def _inventory_move(
    *,
    debit: str,
    amount: Money,
    reference: str,
    kind: str,
    description: str,
    livemode: bool,
    order_id: int | None = None,
    metadata: dict[str, object] | None = None,
    credit: str = Purpose.INVENTORY,
) -> Transaction:
    value = _positive(amount, amount.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(debit, amount.currency, livemode), value),
            (platform_account(credit, amount.currency, livemode), -value),
        ],
        kind=kind,
        description=description,
        order_id=order_id,
        metadata=metadata or {},
    )


def stock_purchase_record(
    *, cost: Money, reference: str, livemode: bool = True, description: str = ""
) -> Transaction:
    """eSIMs bought ahead from the provider: their cost is held in inventory against what
    we owe the provider. Idempotent on reference (one per provider batch)."""
    return _inventory_move(
        debit=Purpose.INVENTORY,
        credit=Purpose.PROVIDER_PAYABLE,
        amount=cost,
        reference=reference,
        kind=Transaction.Kind.STOCK_PURCHASE,
        description=description or "eSIMs bought for stock",
        livemode=livemode,
    )


def stock_sale_cost_record(
    *, cost: Money, reference: str, order_id: int, livemode: bool = True
) -> Transaction:
    """An order took eSIMs from stock: what they cost moves from inventory to cost of
    sales (instead of an order cost owed to the provider). Idempotent on reference."""
    return _inventory_move(
        debit=Purpose.COGS,
        amount=cost,
        reference=reference,
        kind=Transaction.Kind.STOCK_SALE_COST,
        description=f"Stock cost of order {order_id}",
        livemode=livemode,
        order_id=order_id,
    )


def stock_refund_due(
    *, cost: Money, reference: str, livemode: bool = True, description: str = ""
) -> Transaction:
    """Stock given back to the provider before its refund window closed: its cost leaves
    inventory and is owed back by the provider (settled by `provider_refund_received`)."""
    return _inventory_move(
        debit=Purpose.PROVIDER_REFUND_RECEIVABLE,
        amount=cost,
        reference=reference,
        kind=Transaction.Kind.STOCK_REFUND_DUE,
        description=description or "Stock returned to the provider for a refund",
        livemode=livemode,
    )


def stock_write_off(
    *, cost: Money, reference: str, reason: str, livemode: bool = True
) -> Transaction:
    """Stock that can be neither sold nor refunded: its cost is written off to
    adjustments, with the reason operators see."""
    return _inventory_move(
        debit=Purpose.ADJUSTMENTS,
        amount=cost,
        reference=reference,
        kind=Transaction.Kind.STOCK_WRITE_OFF,
        description=f"Stock written off: {reason}"[:500],
        livemode=livemode,
        metadata={"reason": reason},
    )


# --- the card gateway's own movements (called by payments) -------------------------------


def card_fee_record(
    *,
    fee: Money,
    reference: str,
    order_id: int | None = None,
    livemode: bool = True,
    metadata: dict[str, str] | None = None,
) -> Transaction:
    """What the gateway kept for one charge, refund or dispute: card_fees /
    stripe_clearing; a negative fee (given back, e.g. a won dispute's) the reverse.
    Idempotent on reference (one per gateway balance transaction)."""
    if fee.amount == 0:
        raise DomainError("validation_error", "a card fee is not zero")
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.CARD_FEES, fee.currency, livemode), fee.amount),
            (platform_account(Purpose.STRIPE_CLEARING, fee.currency, livemode), -fee.amount),
        ],
        kind=Transaction.Kind.CARD_FEE,
        description="Card fee" if fee.amount > 0 else "Card fee returned",
        order_id=order_id,
        metadata=metadata,
    )


def payout_record(
    *, amount: Money, reference: str, livemode: bool = True, metadata: dict[str, str] | None = None
) -> Transaction:
    """The gateway paid our balance out to the bank: bank / stripe_clearing. Idempotent
    on reference (one per payout)."""
    value = _positive(amount, amount.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.BANK, amount.currency, livemode), value),
            (platform_account(Purpose.STRIPE_CLEARING, amount.currency, livemode), -value),
        ],
        kind=Transaction.Kind.PAYOUT,
        description="Payout to the bank",
        metadata=metadata,
    )


def sale_tax_record(
    *, tax: Money, reference: str, order_id: int, livemode: bool = True
) -> Transaction:
    """The VAT in a sale's tax-inclusive price, moved out of revenue into what we owe the
    tax authorities: revenue / tax_payable. Idempotent on reference (one per order)."""
    value = _positive(tax, tax.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.REVENUE, tax.currency, livemode), value),
            (platform_account(Purpose.TAX_PAYABLE, tax.currency, livemode), -value),
        ],
        kind=Transaction.Kind.SALE_TAX,
        description=f"VAT of order {order_id}",
        order_id=order_id,
    )


def sale_tax_reverse(
    *, tax: Money, reference: str, order_id: int, livemode: bool = True
) -> Transaction:
    """A taxed sale refunded in full: its VAT is no longer owed. tax_payable / refunds
    (the refund posting took the whole amount into refunds). Idempotent on reference."""
    value = _positive(tax, tax.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(Purpose.TAX_PAYABLE, tax.currency, livemode), value),
            (platform_account(Purpose.REFUNDS, tax.currency, livemode), -value),
        ],
        kind=Transaction.Kind.SALE_TAX,
        description=f"VAT of refunded order {order_id}",
        order_id=order_id,
    )


def fx_conversion_record(
    *,
    purpose: str,
    amount_from: Money,
    amount_to: Money,
    reference: str,
    livemode: bool = True,
    metadata: dict[str, str] | None = None,
) -> Transaction:
    """A platform account's money changed currency (`amount_from` became `amount_to`):
    four legs, two per currency, through the fx account, so each currency balances on
    its own and the fx account holds the position. Idempotent on reference."""
    if amount_from.currency == amount_to.currency:
        raise DomainError("validation_error", "an FX conversion changes currency")
    give = _positive(amount_from, amount_from.currency)
    get = _positive(amount_to, amount_to.currency)
    return ledger_post(
        reference=reference,
        entries=[
            (platform_account(purpose, amount_to.currency, livemode), get),
            (platform_account(Purpose.FX, amount_to.currency, livemode), -get),
            (platform_account(Purpose.FX, amount_from.currency, livemode), give),
            (platform_account(purpose, amount_from.currency, livemode), -give),
        ],
        kind=Transaction.Kind.FX_CONVERSION,
        description=f"{amount_from} converted to {amount_to}",
        metadata=metadata,
    )
