"""Sub-resellers (docs/MONEY.md "Sub-vendors"): a vendor's own resellers, their credit and
the money a parent moves into (or back out of) their wallets.

* transfer (fund):      debit the parent's account (its wallet; its receivable when it is
                        postpaid), credit the sub-vendor's wallet
* transfer (withdraw):  debit the sub-vendor's wallet, credit the parent's account
* order margin:         on a sub-vendor's order's capture, debit revenue, credit each
                        level above the buyer what it earns (its price to the level below
                        less its own price): the platform keeps the top vendor's price

A transfer is one ledger transaction (`transfer:{public_id}`); the account bounds refuse
it over what the payer has available (`insufficient_funds`, `credit_limit_exceeded`: 402),
checked under the ledger's row locks and again by the database (ledger/posting.py).
A postpaid sub-vendor's credit is granted by its parent within the parent's own: the credit
limits of a parent's postpaid sub-vendors add up to at most its own credit limit.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import OrderMargin, WalletTransfer
from ledger.models import Entry, Hold, Purpose, Transaction
from ledger.posting import ledger_lock, ledger_post, positive
from ledger.services import platform_account
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.validators import one_line
from vendors.lock_objects import vendor_qs_select_for_update
from vendors.models import Vendor, VendorInvitation, VendorUser
from vendors.services import vendor_credit_limit_change
from vendors.team import invitation_url

INVITATION_DAYS = 7


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("validation_error", message, details={field: [message]})


def sub_vendor_get(*, parent: Vendor, sub_vendor_id: int) -> Vendor:
    """The parent's own direct sub-vendor, else `not_found` (another vendor's, a sibling's
    or a grandchild are all not found: a parent acts on the level below it only)."""
    sub = Vendor.objects.filter(pk=sub_vendor_id, parent=parent).first()
    if sub is None:
        raise DomainError("not_found", "No such sub-vendor.")
    return sub


def sub_vendor_in_tree(*, vendor: Vendor, sub_vendor_id: int) -> Vendor:
    """A vendor anywhere below `vendor` (its sub-vendor, their sub-vendors, ...), else
    `not_found`: what a parent may read (orders, balances), never a sibling's or above."""
    sub = Vendor.objects.filter(pk=sub_vendor_id, parent__isnull=False).first()
    if sub is not None and any(a.pk == vendor.pk for a in sub.ancestors):
        return sub
    raise DomainError("not_found", "No such sub-vendor.")


def sub_vendor_tree(*, vendor: Vendor) -> list[Vendor]:
    """Every vendor below `vendor` (children, their children, ...), breadth first."""
    found: list[Vendor] = []
    level = [vendor.pk]
    for _ in range(settings.SUB_VENDOR_MAX_DEPTH + 1):
        children = list(Vendor.objects.filter(parent_id__in=level).order_by("id"))
        if not children:
            break
        found.extend(children)
        level = [c.pk for c in children]
    return found


def sub_vendor_create(
    *,
    parent: Vendor,
    name: str,
    billing_mode: str = Vendor.BillingMode.PREPAID,
    markup_bps: int = 0,
    owner_email: str = "",
    credit_limit: Money | None = None,
    actor: Any = None,
) -> Vendor:
    """A sub-vendor of `parent`: active at once (the parent vouches for it), billed in the
    parent's currency, buying at the parent's price plus `markup_bps`. `owner_email` is
    invited to its portal as owner (it issues its own API keys there). Created with a
    live key only: its test environment hangs below the parent's."""
    if not parent.livemode:
        raise DomainError(
            "invalid_state",
            "Create sub-vendors with a live key; each one's test environment sits below yours.",
        )
    if parent.status != Vendor.Status.ACTIVE:
        raise DomainError("vendor_not_active", "Only an active vendor can create sub-vendors.")
    if billing_mode not in Vendor.BillingMode.values:
        raise _invalid("billing_mode", "Choose prepaid or postpaid.")
    if not 0 <= markup_bps <= 100_000:
        raise _invalid("markup_bps", "The markup must be between 0 and 100000 bps.")
    name = name.strip()
    if not name:
        raise _invalid("name", "Name the sub-vendor.")
    if billing_mode == Vendor.BillingMode.POSTPAID and (
        parent.billing_mode != Vendor.BillingMode.POSTPAID
    ):
        raise _invalid(
            "billing_mode", "Only a postpaid vendor can grant credit: make the sub-vendor prepaid."
        )
    with transaction.atomic():
        locked = vendor_qs_select_for_update().get(pk=parent.pk)
        if locked.depth + 1 > settings.SUB_VENDOR_MAX_DEPTH:
            raise DomainError(
                "invalid_state",
                f"Sub-vendors go at most {settings.SUB_VENDOR_MAX_DEPTH} levels deep.",
                details={"max_depth": settings.SUB_VENDOR_MAX_DEPTH},
            )
        sub = Vendor.objects.create(
            parent=locked,
            name=name,
            status=Vendor.Status.ACTIVE,
            approved_at=timezone.now(),
            billing_mode=billing_mode,
            currency=locked.currency,
            country=locked.country,
            tier=locked.tier,
            markup_bps=markup_bps,
            contact_email=owner_email.strip().lower(),
        )
        audit_record(
            actor=actor,
            action="vendor.sub_vendor_create",
            target=sub,
            after={"parent": locked.pk, "billing_mode": billing_mode, "markup_bps": markup_bps},
        )
        if credit_limit is not None and credit_limit.amount:
            sub_vendor_credit_limit_set(parent=locked, sub_vendor=sub, limit=credit_limit)
        if owner_email.strip():
            _owner_invite(sub, owner_email.strip().lower(), parent=locked)
    sub.refresh_from_db()
    return sub


def _owner_invite(sub: Vendor, email: str, *, parent: Vendor) -> VendorInvitation:
    now = timezone.now()
    invitation = VendorInvitation.objects.create(
        vendor=sub,
        email=email,
        role=VendorUser.Role.OWNER,
        token=secrets.token_urlsafe(32),
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    task_enqueue(
        "vendors.tasks.person_email_send",
        email,
        f"{one_line(parent.name)} opened a reseller account for you on TTelGo",
        f"{parent.name} opened the reseller account {sub.name} for you in the TTelGo vendor "
        f"portal, with you as its owner.\n\nAccept within {INVITATION_DAYS} days:\n"
        f"{invitation_url(invitation)}\n",
    )
    return invitation


def sub_vendor_update(
    *, parent: Vendor, sub_vendor: Vendor, markup_bps: int | None = None, actor: Any = None
) -> Vendor:
    """The parent changes its markup on a sub-vendor (orders placed since keep theirs)."""
    if sub_vendor.parent_id != parent.pk:
        raise DomainError("not_found", "No such sub-vendor.")
    if markup_bps is not None:
        if not 0 <= markup_bps <= 100_000:
            raise _invalid("markup_bps", "The markup must be between 0 and 100000 bps.")
        with transaction.atomic():
            before = sub_vendor.markup_bps
            Vendor.objects.filter(pk=sub_vendor.pk).update(markup_bps=markup_bps)
            twin = Vendor.objects.filter(live_vendor=sub_vendor).first()
            if twin is not None:
                Vendor.objects.filter(pk=twin.pk).update(markup_bps=markup_bps)
            audit_record(
                actor=actor,
                action="vendor.sub_vendor_markup",
                target=sub_vendor,
                before={"markup_bps": before},
                after={"markup_bps": markup_bps},
            )
    sub_vendor.refresh_from_db()
    return sub_vendor


def sub_vendor_credit_limit_set(
    *, parent: Vendor, sub_vendor: Vendor, limit: Money, actor: Any = None
) -> Vendor:
    """A postpaid sub-vendor's credit line, granted by its parent within its own: the
    limits of the parent's postpaid sub-vendors add up to at most the parent's credit
    limit (else `credit_limit_exceeded`, 402). The parent's row is locked, so two grants
    racing cannot both fit."""
    if sub_vendor.parent_id != parent.pk:
        raise DomainError("not_found", "No such sub-vendor.")
    if sub_vendor.billing_mode != Vendor.BillingMode.POSTPAID:
        raise _invalid("credit_limit", "Credit limits apply to postpaid sub-vendors only.")
    if limit.currency != parent.currency:
        raise _invalid("credit_limit", f"The limit must be in {parent.currency}.")
    if limit.amount < 0:
        raise _invalid("credit_limit", "The limit cannot be negative.")
    # The room left in the parent's own credit is checked once, under the parent's row
    # lock taken before the sub-vendor's, by the credit limit service itself.
    return vendor_credit_limit_change(
        vendor=sub_vendor, limit=limit, actor=actor, reason="granted by the parent vendor"
    )


def wallet_transfer_create(
    *,
    parent: Vendor,
    sub_vendor: Vendor,
    amount: Money,
    direction: str = WalletTransfer.Direction.FUND,
    description: str = "",
) -> WalletTransfer:
    """Move `amount` from the parent's account to a prepaid sub-vendor's wallet (`fund`),
    or back (`withdraw`). One balanced ledger transaction; refused over what the payer
    has available (402). Call it once per request: the API's Idempotency-Key makes a
    retry return the first transfer."""
    if sub_vendor.parent_id != parent.pk:
        raise DomainError("not_found", "No such sub-vendor.")
    if direction not in WalletTransfer.Direction.values:
        raise _invalid("direction", "Choose fund or withdraw.")
    if sub_vendor.billing_mode != Vendor.BillingMode.PREPAID:
        raise DomainError(
            "invalid_state",
            "A postpaid sub-vendor runs on the credit you grant it, not on a wallet.",
        )
    if amount.currency != parent.currency:
        raise _invalid("amount", f"Transfers are in {parent.currency}.")
    value = positive(amount, amount.currency)
    payer = vendor_ledger_account(vendor=parent, currency=amount.currency)
    wallet = vendor_ledger_account(
        vendor=sub_vendor, purpose=Purpose.WALLET, currency=amount.currency
    )
    legs = [(payer, value), (wallet, -value)]
    if direction == WalletTransfer.Direction.WITHDRAW:
        legs = [(wallet, value), (payer, -value)]
    public_id = f"tr_{uuid.uuid4().hex[:24]}"
    with transaction.atomic():
        txn = ledger_post(
            reference=f"transfer:{public_id}",
            entries=legs,
            kind=Transaction.Kind.TRANSFER,
            description=(description or f"Transfer {direction} {sub_vendor.name}")[:500],
            metadata={
                "parent_id": parent.pk,
                "sub_vendor_id": sub_vendor.pk,
                "direction": direction,
            },
        )
        return WalletTransfer.objects.create(
            public_id=public_id,
            parent=parent,
            sub_vendor=sub_vendor,
            direction=direction,
            amount=value,
            currency=amount.currency,
            livemode=parent.livemode,
            description=description.strip()[:255],
            transaction=txn,
        )


def order_margins_plan(*, vendor: Vendor, order_id: int, level_totals: list[Money]) -> None:
    """Record what each level above a sub-vendor earns on its order: `level_totals` are
    the order's total at each level's price, top vendor first, buyer last (catalogue
    `vendor_price_chain`). Nothing for a vendor with no parent."""
    chain = [*reversed(vendor.ancestors), vendor]
    if len(chain) < 2 or len(level_totals) != len(chain):
        return
    OrderMargin.objects.bulk_create(
        [
            OrderMargin(
                order_id=order_id,
                vendor=chain[i],
                amount=level_totals[i + 1].amount - level_totals[i].amount,
                currency=level_totals[i].currency,
            )
            for i in range(len(chain) - 1)
        ]
    )


def order_margin_accounts(*, order_id: int) -> list[tuple[OrderMargin, int]]:
    """The order's margins with the ledger account each is paid into (opened if needed)."""
    margins = list(OrderMargin.objects.filter(order_id=order_id).select_related("vendor"))
    return [(m, vendor_ledger_account(vendor=m.vendor, currency=m.currency).id) for m in margins]


def order_margins_book(
    *, order_id: int, hold: Hold, captured: int, margins: list[tuple[OrderMargin, int]]
) -> Transaction | None:
    """Book each level's margin of a captured sub-vendor order: revenue pays each level
    above the buyer its margin (scaled to what was captured, rounded down: the platform
    keeps the rounding). Call it after the capture, in its transaction, with the accounts
    locked (`vendor_order_capture`). Idempotent on `order:{id}:margin`."""
    if not margins or captured <= 0:
        return None
    currency = hold.account.currency
    legs: list[tuple[Any, int]] = []
    _, accounts = ledger_lock(accounts=[account_id for _, account_id in margins])
    total = 0
    paid: dict[str, int] = {}
    for margin, account_id in margins:
        share = margin.amount * captured // hold.amount
        if share <= 0:
            continue
        legs.append((accounts[account_id], -share))
        paid[str(margin.vendor_id)] = share
        total += share
    if not total:
        return None
    revenue = platform_account(Purpose.REVENUE, currency, hold.account.livemode)
    return ledger_post(
        reference=f"order:{order_id}:margin",
        entries=[(revenue, total), *legs],
        kind=Transaction.Kind.ORDER_MARGIN,
        description=f"Resellers' margins on order {order_id}",
        order_id=order_id,
        metadata={"margins": paid},
    )


def order_margin_refund_due(*, margin: int, charged: int, refunded: int) -> int:
    """What refunds of `refunded` (of an order charged `charged`) take back of a level's
    booked `margin` altogether: in proportion, half up, all of it once the order is
    refunded in full. Computed on the running total, never per refund, so the parts add
    up to the whole and never exceed it (like the VAT's, `orders.services`)."""
    if margin <= 0 or refunded <= 0 or charged <= 0:
        return 0
    if refunded >= charged:
        return margin
    return min(margin, (2 * margin * refunded + charged) // (2 * charged))


def order_margins_reverse(
    *, order_id: int, charged: int, refunded: int, livemode: bool
) -> Transaction | None:
    """A sub-vendor's order refunded in part or in full: each level above the buyer gives
    back the part of the margin booked on it (`order:<id>:margin`) that the refunds so
    far take back; `refunds`, which paid the buyer its whole price, is credited. Posts the
    difference between what is due for the running refunded total and what earlier
    refunds took back, under a reference naming that total (`order:<id>:margin:refund:
    <refunded>`, the last one `order:<id>:margin:refunded`): idempotent, and a full refund
    reverses each margin exactly. Call it inside the refund's transaction with the
    levels' accounts already locked with the buyer's (`vendor_order_refund`); a prepaid
    level whose wallet cannot cover its share refuses the refund (402, nothing posted)."""
    booked = Transaction.objects.filter(
        reference=f"order:{order_id}:margin", kind=Transaction.Kind.ORDER_MARGIN
    ).first()
    if booked is None or refunded <= 0:
        return None
    earned = {e.account_id: -e.amount for e in booked.entries.filter(amount__lt=0)}
    back = dict(
        Entry.objects.filter(
            transaction__order_id=order_id,
            transaction__kind=Transaction.Kind.ORDER_MARGIN,
            account_id__in=earned,
            amount__gt=0,
        )
        .values_list("account_id")
        .annotate(total=Sum("amount"))
    )
    _, accounts = ledger_lock(accounts=list(earned))
    legs: list[tuple[Any, int]] = []
    taken: dict[str, int] = {}
    for account_id in sorted(earned):
        due = order_margin_refund_due(margin=earned[account_id], charged=charged, refunded=refunded)
        step = due - back.get(account_id, 0)
        if step > 0:
            legs.append((accounts[account_id], step))
            taken[str(accounts[account_id].holder)] = step
    total = sum(value for _, value in legs)
    if not total:
        return None
    currency = legs[0][0].currency
    refunds = platform_account(Purpose.REFUNDS, currency, livemode)
    full = refunded >= charged
    reference = (
        f"order:{order_id}:margin:refunded"
        if full
        else f"order:{order_id}:margin:refund:{refunded}"
    )
    return ledger_post(
        reference=reference,
        entries=[*legs, (refunds, -total)],
        kind=Transaction.Kind.ORDER_MARGIN,
        description=f"Resellers' margins on refunded order {order_id}",
        order_id=order_id,
        metadata={"margins_reversed": taken, "refunded": refunded},
    )


def sub_vendor_webhooks_set(*, vendor: Vendor, enabled: bool, actor: Any = None) -> Vendor:
    """Whether the vendor also receives its sub-vendors' webhook events (each with
    `sub_vendor_id`), on its own endpoints subscribed to their types."""
    with transaction.atomic():
        Vendor.objects.filter(pk=vendor.pk).update(sub_vendor_webhooks=enabled)
        audit_record(
            actor=actor,
            action="vendor.sub_vendor_webhooks",
            target=vendor,
            after={"sub_vendor_webhooks": enabled},
        )
    vendor.refresh_from_db()
    return vendor
