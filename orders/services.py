"""Order services. Everything that changes an order goes through here (and through
`orders.state.order_transition` for its status)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.alerts import vendor_low_balance_due
from billing.selectors import vendor_balance_of, vendor_has_overdue_invoices
from billing.services import (
    vendor_order_reserve,
    vendor_order_void,
)
from catalogue.fx import bundle_price_in
from catalogue.models import Bundle
from catalogue.pricing import vendor_price_levels
from catalogue.selectors import bundle_get_sellable
from ledger.models import Transaction
from ledger.selectors import order_refunded_sum, order_tax_reversed_sum
from ledger.services import sale_tax_record, sale_tax_reverse
from orders.fraud import rules as fraud
from orders.lock_objects import order_qs_select_for_update
from orders.models import Order, OrderItem
from orders.selectors import order_rows_known
from orders.state import ORDER_STATES, order_event_record, order_transition
from payments.services import (
    payment_cancel_for_order,
    payment_create_for_order,
)
from ttelgo.errors import DomainError
from ttelgo.metrics import ORDERS_CREATED, count_on_commit
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.queues import PROVISIONING, queue_for
from ttelgo.tax import Buyer, tax_for_sale
from vendors.models import Vendor

logger = logging.getLogger(__name__)
S = Order.Status
MAX_QUANTITY = 10
# Completes a just-created order in provisioning inside its transaction (fulfilment's sale
# from stock) and returns it, or returns None and the order is provisioned as before.
Deliver = Callable[[Order], Order | None]


def order_queued_until() -> datetime:
    """The end of the queued lease of a provisioning task queued now."""
    return timezone.now() + timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)


def order_provisioning_enqueue(*, order_id: int, livemode: bool, marked: bool = False) -> None:
    """Queue provisioning with the current transaction, through the outbox (an order
    accepted while the broker is down is sent when it is back), to the provisioning queue
    or, for a test-mode order, the test queue. The order is marked queued for a lease
    (the re-drive leaves it alone meanwhile: ttelgo/queues.py); `marked`: the caller
    wrote the marker already."""
    if not marked:
        Order.objects.filter(pk=order_id).update(provisioning_queued_until=order_queued_until())
    task_enqueue(
        "fulfilment.tasks.order_provision",
        order_id,
        queue=queue_for(PROVISIONING, livemode=livemode),
    )


def order_fraud_assess(*, order: Order, quantity: int | None = None) -> list[str]:
    """Reasons to hold an order for review; empty means go ahead. An unsaved vendor order
    passes its eSIM count."""
    return fraud.fraud_assess(order=order, quantity=quantity)


def order_release_to_provisioning(*, order_id: int, actor: Any = None, reason: str = "") -> Order:
    """paid/in_review -> provisioning, and queue the provisioning task."""
    with transaction.atomic():
        order = order_transition(
            order_id=order_id,
            to=S.PROVISIONING,
            expected=frozenset({S.PAID, S.IN_REVIEW}),
            actor=actor,
            reason=reason,
        )
        order_provisioning_enqueue(order_id=order.pk, livemode=order.livemode)
        return order


# --- creation ---------------------------------------------------------------------------


def _buyer_label(*, customer: Any = None, vendor: Any = None) -> Any:
    return customer if customer is not None else f"vendor:{vendor.pk}"


def _tax_buyer(*, customer: Any = None, vendor: Vendor | None = None) -> Buyer:
    """The buyer as the VAT rules see it (ttelgo/tax.py)."""
    who = vendor if vendor is not None else customer
    return Buyer(
        country=str(getattr(who, "country", "") or ""),
        vat_number=str(getattr(who, "vat_number", "") or ""),
        vat_number_valid=bool(getattr(who, "vat_number_valid", False)),
    )


def order_tax_book(*, order: Order) -> None:
    """Book the VAT of a sale once its revenue is booked (a customer's payment captured,
    a vendor's reservation captured): revenue / tax_payable, once per order."""
    if order.tax_amount > 0:
        sale_tax_record(
            tax=Money(order.tax_amount, order.currency),
            reference=f"order:{order.pk}:tax",
            order_id=order.pk,
            livemode=order.livemode,
        )


def order_tax_refund_due(*, tax: int, total: int, refunded: int) -> int:
    """The VAT that refunds of `refunded` (of a sale's `total`, tax-inclusive) give back
    altogether: the sale's `tax` in proportion, half up, all of it once the sale is
    refunded in full. Computed on the running total, never per refund, so the parts add
    up to the whole (no drift) and never exceed it."""
    if tax <= 0 or refunded <= 0 or total <= 0:
        return 0
    if refunded >= total:
        return tax
    return min(tax, (2 * tax * refunded + total) // (2 * total))  # half up, in integers


def order_tax_reverse(*, order: Order) -> None:
    """A sale refunded in part or in full (a customer's card refund, a vendor's order
    refund, B2B like B2C): the part of the VAT booked on it that the refunds so far give
    back is no longer owed (tax_payable / refunds, which took the whole refund). Posts the
    difference between what is due back for the running refunded total and what earlier
    refunds gave back, under a reference naming that running total (idempotent: the same
    refund seen twice posts once); the last refund's is `order:<id>:tax:refunded`. The
    caller holds the order's lock. Nothing if no VAT was booked."""
    booked = Transaction.objects.filter(reference=f"order:{order.pk}:tax").exists()
    if not booked or order.tax_amount <= 0:
        return
    refunded = order_refunded_sum(order_id=order.pk, currency=order.currency)
    due = order_tax_refund_due(tax=order.tax_amount, total=order.total, refunded=refunded)
    given = order_tax_reversed_sum(order_id=order.pk, currency=order.currency)
    if due <= given:
        return
    full = refunded >= order.total
    reference = (
        f"order:{order.pk}:tax:refunded" if full else f"order:{order.pk}:tax:refund:{refunded}"
    )
    sale_tax_reverse(
        tax=Money(due - given, order.currency),
        reference=reference,
        order_id=order.pk,
        livemode=order.livemode,
    )


def _order_insert(
    *,
    channel: str,
    kind: str,
    status: str,
    bundle: Bundle,
    quantity: int,
    unit_price: Money,
    customer: Any = None,
    vendor: Vendor | None = None,
    customer_reference: str = "",
    target_iccid: str = "",
    client_ip: str | None = None,
    review_reasons: list[str] | None = None,
    end_customer: tuple[str, str] = ("", ""),
) -> Order:
    """The order row, its item and its first event (must run inside a transaction). The
    cost is the bundle's, in its own currency (the provider's), whatever the price's."""
    cost = bundle.cost_amount
    if not 1 <= quantity <= MAX_QUANTITY:
        raise DomainError(
            "validation_error",
            f"quantity must be between 1 and {MAX_QUANTITY}.",
            details={"quantity": [f"Must be between 1 and {MAX_QUANTITY}."]},
        )
    tax = tax_for_sale(
        total=Money(unit_price.amount * quantity, unit_price.currency),
        buyer=_tax_buyer(customer=customer, vendor=vendor),
    )
    order = Order(
        tax_amount=tax.tax.amount,
        tax_rate_bp=tax.rate_bp,
        tax_country=tax.country,
        tax_treatment=tax.treatment,
        buyer_vat_number=tax.buyer_vat_number,
        seller_vat_number=tax.seller_vat_number,
        kind=kind,
        channel=channel,
        customer=customer,
        vendor=vendor,
        livemode=vendor.livemode if vendor is not None else True,
        end_customer_email=end_customer[0],
        end_customer_language=end_customer[1],
        status=status,
        currency=unit_price.currency,
        total=unit_price.amount * quantity,
        cost_total=cost * quantity,
        cost_currency="" if bundle.currency == unit_price.currency else bundle.currency,
        customer_reference=customer_reference,
        target_iccid=target_iccid,
        client_ip=client_ip,
        review_reasons=review_reasons or [],
        # Born provisioning: its caller queues it in this transaction.
        provisioning_queued_until=order_queued_until() if status == S.PROVISIONING else None,
    )
    order.save(force_insert=True)
    item = OrderItem(
        order=order,
        bundle_code=bundle.code,
        bundle_name=bundle.name,
        quantity=quantity,
        unit_price=unit_price.amount,
        unit_cost=cost,
        currency=unit_price.currency,
    )
    item.save(force_insert=True)
    # The caller answers with this order: its rows are known, nothing to read back.
    order_rows_known(order, items=[item], esims=[])
    order_event_record(
        order=order,
        from_status="",
        to_status=status,
        actor=_buyer_label(customer=customer, vendor=vendor),
        reason="order placed",
    )
    count_on_commit(ORDERS_CREATED.labels(channel=channel, kind=kind))
    return order


def _vendor_may_order(vendor: Vendor) -> None:
    status = vendor.access_status  # a test environment follows its suspended/closed vendor
    if status != Vendor.Status.ACTIVE:
        raise DomainError(
            "vendor_not_active",
            f"This vendor account is {status}.",
            details={"status": status},
        )
    if getattr(settings, "SUSPEND_ORDERING_WHEN_OVERDUE", True) and vendor_has_overdue_invoices(
        vendor=vendor
    ):
        raise DomainError(
            "vendor_not_active",
            "Ordering is suspended until the overdue invoices are paid.",
            details={"status": vendor.status, "reason": "overdue_invoices"},
        )


def _create_b2c(
    *,
    customer: Any,
    bundle: Bundle,
    quantity: int,
    kind: str,
    target_iccid: str = "",
    client_ip: str | None = None,
    save_card: bool = False,
    pay_off_session: bool = False,
    currency: str = "",
) -> Order:
    """The order, then its PaymentIntent: the gateway is asked outside any transaction
    (the order is committed first, awaiting payment); if it fails, the order is cancelled
    and the error raised. With `pay_off_session`, no PaymentIntent yet: the caller charges
    the customer's saved card (payments.services.payment_off_session).

    Durable when the gateway is asked here: the order must have committed first."""
    priced = bundle_price_in(bundle=bundle, currency=currency)
    with transaction.atomic(durable=not pay_off_session):
        order = _order_insert(
            channel=Order.Channel.B2C,
            kind=kind,
            status=S.AWAITING_PAYMENT,
            bundle=bundle,
            quantity=quantity,
            unit_price=priced.price,
            customer=customer,
            target_iccid=target_iccid,
            client_ip=client_ip,
        )
    if pay_off_session:
        return order
    try:
        payment_create_for_order(order=order, save_card=save_card)
    except DomainError:
        with transaction.atomic():
            order_transition(
                order_id=order.pk,
                to=S.CANCELLED,
                expected=S.AWAITING_PAYMENT,
                reason="the payment could not be set up",
            )
        raise
    return order


def _create_b2b(
    *,
    vendor: Vendor,
    bundle: Bundle,
    quantity: int,
    kind: str,
    customer_reference: str = "",
    target_iccid: str = "",
    end_customer: tuple[str, str] = ("", ""),
    deliver: Deliver | None = None,
) -> Order:

    _vendor_may_order(vendor)
    levels = vendor_price_levels(vendor=vendor, bundle=bundle)
    unit_price = levels[-1]
    # No savepoint: nothing here recovers from a refusal, which rolls back the order and
    # whatever transaction the caller wrapped it in (the API's idempotency record with it).
    with transaction.atomic(savepoint=False):
        # The fraud rules see the order before it exists, so a held one starts in review
        # (its funds reserved all the same) instead of reaching the provider.
        candidate = Order(
            channel=Order.Channel.B2B,
            kind=kind,
            vendor=vendor,
            currency=unit_price.currency,
            total=unit_price.amount * quantity,
        )
        # Test mode's play money is nobody's risk: operators never review test orders.
        reasons = order_fraud_assess(order=candidate, quantity=quantity) if vendor.livemode else []
        order = _order_insert(
            channel=Order.Channel.B2B,
            kind=kind,
            status=S.IN_REVIEW if reasons else S.PROVISIONING,
            bundle=bundle,
            quantity=quantity,
            unit_price=unit_price,
            vendor=vendor,
            customer_reference=customer_reference,
            target_iccid=target_iccid,
            review_reasons=reasons,
            end_customer=end_customer,
        )
        # Refusal (insufficient_funds / credit_limit_exceeded) rolls the order back too.
        hold = vendor_order_reserve(
            vendor=vendor,
            order_id=order.pk,
            amount=Money(order.total, order.currency),
            level_totals=[Money(p.amount * quantity, p.currency) for p in levels],
        )
        # Delivered at once (from stock), or provisioned after this commits.
        delivered = deliver(order) if deliver is not None and not reasons else None
        if delivered is not None:
            order = delivered
        elif not reasons:
            order_provisioning_enqueue(order_id=order.pk, livemode=order.livemode, marked=True)
        # The hold's account is the row as locked, with this hold counted.
        available = vendor_balance_of(vendor=vendor, account=hold.account).available
        if vendor_low_balance_due(vendor=vendor, available=available):
            task_enqueue("billing.tasks.vendor_low_balance_check", vendor.pk)
        return order


def order_create_b2c(
    *,
    customer: Any,
    bundle_code: str,
    quantity: int,
    client_ip: str | None = None,
    save_card: bool = False,
    currency: str = "",
) -> Order:
    """A customer's eSIM order, awaiting payment, with its PaymentIntent created. With
    `save_card`, the card it is paid with is kept (the customer's consent) for auto
    top-ups. `currency`: one the customer chose (`CUSTOMER_CURRENCIES`): the order is
    priced from the bundle's price list in it and paid in it; "" the catalogue's own."""

    bundle = bundle_get_sellable(code=bundle_code)
    return _create_b2c(
        customer=customer,
        bundle=bundle,
        quantity=quantity,
        kind=Order.Kind.ESIM,
        client_ip=client_ip,
        save_card=save_card,
        currency=currency,
    )


def order_create_b2b(
    *,
    vendor: Vendor,
    bundle_code: str,
    quantity: int,
    customer_reference: str = "",
    customer_email: str = "",
    customer_language: str = "",
    deliver: Deliver | None = None,
) -> Order:
    """A vendor's eSIM order: funds reserved in the same transaction, provisioning queued
    once it commits. With `customer_email`, the end customer is emailed the eSIMs under
    the vendor's brand once they are delivered. `deliver` (fulfilment's sale from stock,
    `fulfilment.sale.order_create_b2b`) may complete the order in that transaction
    instead, after the funds are reserved; then nothing is queued for provisioning."""

    bundle = bundle_get_sellable(code=bundle_code)
    return _create_b2b(
        vendor=vendor,
        bundle=bundle,
        quantity=quantity,
        kind=Order.Kind.ESIM,
        customer_reference=customer_reference,
        end_customer=(customer_email, customer_language),
        deliver=deliver,
    )


def topup_order_create(
    *,
    target_iccid: str,
    bundle_code: str,
    customer: Any = None,
    vendor: Vendor | None = None,
    client_ip: str | None = None,
    pay_off_session: bool = False,
) -> Order:
    """A top-up order for the eSIM `target_iccid`: pays like any order of its channel.
    The sale knows no eSIMs: call it through `fulfilment.topups.order_create_topup`, which
    checks first that the eSIM is the buyer's and not revoked. `pay_off_session`: a
    customer's auto top-up, charged to the saved card by the caller."""
    if (customer is None) == (vendor is None):
        raise ValueError("a top-up has exactly one buyer: customer or vendor")
    bundle = bundle_get_sellable(code=bundle_code)
    if vendor is not None:
        return _create_b2b(
            vendor=vendor,
            bundle=bundle,
            quantity=1,
            kind=Order.Kind.TOPUP,
            target_iccid=target_iccid,
        )
    return _create_b2c(
        customer=customer,
        bundle=bundle,
        quantity=1,
        kind=Order.Kind.TOPUP,
        target_iccid=target_iccid,
        client_ip=client_ip,
        pay_off_session=pay_off_session,
    )


# --- cancel and review ------------------------------------------------------------------


def order_cancel(
    *,
    order_id: int,
    actor: Any,
    reason: str = "cancelled by the buyer",
    audit: Callable[[Order, Order], None] | None = None,
) -> Order:
    """Cancel an order still awaiting payment, then its PaymentIntent (asked of the
    gateway after the order's transaction commits). A payment that lands on the cancelled
    order anyway (the customer paid at that moment, or the gateway was unreachable) is
    refunded as a late payment (`order_paid`). Durable: the cancellation has committed
    before the gateway is asked."""
    with transaction.atomic(durable=True):
        order = order_qs_select_for_update().get(pk=order_id)
        if not ORDER_STATES.may("cancel", order.status):
            raise DomainError(
                "invalid_state",
                "Only an order awaiting payment can be cancelled.",
                details={"status": order.status},
            )
        before = order
        order = order_transition(
            order_id=order_id,
            to=S.CANCELLED,
            expected=S.AWAITING_PAYMENT,
            actor=actor,
            reason=reason,
        )
        if audit is not None:  # the operator's audit row, in the same transaction
            audit(before, order)
    try:
        payment_cancel_for_order(order_id=order_id)
    except DomainError as exc:
        logger.warning("payment of cancelled order %s not cancelled: %s", order_id, exc.message)
    return order


def _locked_in_review(order_id: int) -> Order:
    order = order_qs_select_for_update().get(pk=order_id)
    if not ORDER_STATES.may("review", order.status):
        raise DomainError(
            "invalid_state",
            f"Order {order_id} is not in review.",
            details={"status": order.status},
        )
    return order


def order_review_approve(*, order_id: int, actor: Any, note: str = "") -> Order:
    """An operator cleared a held order: it goes on to provisioning."""
    with transaction.atomic():
        _locked_in_review(order_id)
        return order_release_to_provisioning(
            order_id=order_id, actor=actor, reason=note or "review approved"
        )


def order_review_reject(*, order_id: int, actor: Any, note: str = "") -> Order:
    """An operator rejected a held order: a customer's payment is refunded (-> refunded),
    a vendor's reservation is released (-> cancelled). The compare-and-set transition
    happens first, so a second rejection fails with invalid_state and pays nothing."""
    reason = note or "review rejected"
    with transaction.atomic():
        order = _locked_in_review(order_id)
        if order.channel == Order.Channel.B2C:
            order = order_transition(
                order_id=order_id, to=S.REFUNDED, expected=S.IN_REVIEW, actor=actor, reason=reason
            )
            # The card refund leaves after this commits (no gateway call in here).
            task_enqueue(
                "payments.tasks.order_payment_refund",
                order_id,
                reason,
                getattr(actor, "pk", None),
            )
            return order

        order = order_transition(
            order_id=order_id, to=S.CANCELLED, expected=S.IN_REVIEW, actor=actor, reason=reason
        )
        vendor_order_void(order_id=order_id)
        return order
