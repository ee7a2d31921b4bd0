"""Taking unused eSIMs back: the provider revokes the bundle (and refunds it to our
balance), the eSIM shows `revoked`, the cost we booked is owed back to us until the
provider's refund arrives (fulfilment/provider_refunds.py), and a vendor hears
`esim.revoked`. Refunds call this before they move any money, outside any transaction
(the provider is asked over HTTP).

An eSIM that was installed or used is not taken back: the provider refuses to revoke a
bundle that started, and so do we when our own records already say it is in use. Such an
order can only be refunded in part; the customer keeps the eSIM and its data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfilment.lock_objects import esim_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.provider_refunds import provider_refund_expect
from fulfilment.routing import client_for, esim_provider, route_code
from fulfilment.state import ESIM_STATES, esim_transition
from orders.models import Order
from orders.state import order_event_record
from providers import ProviderError, ProviderNotFound, ProviderRejected, get_provider
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.outbox import event_record

RETURN_DAYS = 4


@dataclass(frozen=True)
class Revocation:
    """What a revocation of an order's eSIMs did: `revoked` lists the ICCIDs taken back
    (now or by an earlier attempt), `in_use` those the customer keeps."""

    revoked: tuple[str, ...] = ()
    in_use: tuple[str, ...] = ()


def esim_in_use(esim: Esim) -> bool:
    """Whether our records already say the eSIM was installed or used: it is neither
    revoked nor where the table lets a revocation start (never installed)."""
    return esim.status != Esim.Status.REVOKED and not ESIM_STATES.may("revoke", esim.status)


def _shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integer shares that add up to it exactly."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def esim_refund_share(*, order: Order, esim: Esim) -> tuple[Money, Money]:
    """The part of the order's price and of its cost that one of its eSIMs stands for."""
    ids = list(order.esims.order_by("id").values_list("id", flat=True)) or [esim.pk]
    at = ids.index(esim.pk) if esim.pk in ids else 0
    price = _shares(order.total, len(ids))[at]
    cost = _shares(order.cost_total, len(ids))[at]
    return Money(price, order.currency), Money(cost, order.cost.currency)


def _provider_revoke(*, iccid: str, bundle_code: str, livemode: bool) -> bool:
    """Ask the provider to take the bundle back. True when it did (or already had), False
    when it refused because the bundle is in use."""
    try:
        issuer = esim_provider(iccid)
        client_for(issuer, livemode, get_provider).revoke_bundle(
            iccid=iccid,
            bundle_code=route_code(bundle_code=bundle_code, provider=issuer)
            if issuer
            else bundle_code,
        )
    except ProviderNotFound:
        return True  # not on the eSIM any more: an earlier attempt revoked it
    except ProviderRejected:
        return False
    except ProviderError as exc:
        raise DomainError(
            "provider_unavailable",
            "The eSIM provider could not be reached to revoke the eSIM; nothing was "
            "refunded. Try again in a few minutes.",
        ) from exc
    return True


def _revoked_record(
    *, order: Order, esim: Esim, bundle_code: str, cost: Money, actor: Any, whole: bool
) -> bool:
    """Record a revocation the provider made. A whole eSIM is revoked once: the call that
    finds it revoked already (under its row lock) records nothing and returns False."""
    with transaction.atomic():
        locked = esim_qs_select_for_update().get(pk=esim.pk)
        if whole:
            if locked.status == Esim.Status.REVOKED:
                return False
            # Under the row lock, from the status read: this move wins.
            esim_transition(esim_id=esim.pk, to=Esim.Status.REVOKED, expected=locked.status)
            esim.refresh_from_db(fields=["status"])
        provider_refund_expect(order=order, iccid=esim.iccid, bundle_code=bundle_code, cost=cost)
        what = f"eSIM {esim.iccid}" if whole else f"bundle {bundle_code} on eSIM {esim.iccid}"
        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            reason=f"{what} revoked at the provider",
        )
        if order.channel == Order.Channel.B2B and order.vendor_id is not None:
            data = {
                "iccid": esim.iccid,
                "order_id": order.pk,
                "bundle_code": bundle_code,
                "customer_reference": order.customer_reference,
            }
            event_record(
                vendor_id=order.vendor_id, livemode=order.livemode, type="esim.revoked", data=data
            )
            if whole:
                # A never-installed eSIM left with no bundle goes back to the provider
                # (eSIM Go's returns process): it leaves our account now and is recycled
                # after RETURN_DAYS unless it is installed meanwhile.
                deletion_at = timezone.now() + timedelta(days=RETURN_DAYS)
                event_record(
                    vendor_id=order.vendor_id,
                    livemode=order.livemode,
                    type="esim.deletion_scheduled",
                    data={**data, "deletion_at": deletion_at.isoformat()},
                )
        return True


def esim_revoke(*, order: Order, esim: Esim, actor: Any = None) -> bool:
    """Take one eSIM of an eSIM order back. True when it is revoked (now or before),
    False when it is in use (the customer keeps it). Its status is read afresh, and its
    revocation is recorded (receivable, events) by one call only, however many ask:
    being revoked pays nothing by itself; a refund's own claim decides who pays
    (fulfilment/refunds.py)."""
    esim.refresh_from_db(fields=["status"])
    if esim.status == Esim.Status.REVOKED:
        return True
    if esim_in_use(esim):
        return False
    if not _provider_revoke(
        iccid=esim.iccid, bundle_code=esim.bundle_code, livemode=order.livemode
    ):
        return False
    _, cost = esim_refund_share(order=order, esim=esim)
    _revoked_record(
        order=order, esim=esim, bundle_code=esim.bundle_code, cost=cost, actor=actor, whole=True
    )
    return True


# How long one caller may hold a completed order to take its eSIMs back; a caller that
# dies holding it frees the order when it lapses.
TAKE_BACK_LEASE = timedelta(seconds=60)


@contextmanager
def _take_back_claim(order: Order) -> Iterator[None]:
    """One caller at a time asks the provider for a completed order's eSIMs: the claim is
    the order's lease, taken with a compare-and-set (the row count of a conditional
    update decides). Others are refused at once, before the provider is asked."""
    now = timezone.now()
    with transaction.atomic(durable=True):  # committed before the provider is asked
        claimed = (
            Order.objects.filter(pk=order.pk, status=Order.Status.COMPLETED)
            .filter(Q(provisioning_lease_until__isnull=True) | Q(provisioning_lease_until__lt=now))
            .update(provisioning_lease_until=now + TAKE_BACK_LEASE)
        )
    if not claimed:
        raise DomainError(
            "invalid_state",
            "Another refund of this order is taking its eSIMs back right now; look at the "
            "order again in a minute.",
            details={"status": order.status},
        )
    try:
        yield
    finally:
        Order.objects.filter(pk=order.pk).update(provisioning_lease_until=None)


def order_esims_revoke(*, order: Order, actor: Any = None) -> Revocation:
    """Before a full refund of a completed order: take back what it delivered. An eSIM
    order's eSIMs are revoked when none is in use by our records (one in use stops it
    before the provider is asked); a top-up's bundle is revoked on its eSIM, which keeps
    its other bundles. Anything but a completed order delivered nothing to take back.
    Callers at once for one order ask the provider once: the first holds the order
    (`_take_back_claim`), the others are refused with `invalid_state`."""
    if order.status != Order.Status.COMPLETED:
        return Revocation()
    with _take_back_claim(order):
        return _order_esims_revoke(order=order, actor=actor)


def _order_esims_revoke(*, order: Order, actor: Any) -> Revocation:
    if order.kind == Order.Kind.TOPUP:
        target = Esim.objects.filter(iccid=order.target_iccid).first()
        bundle_code = order.items.values_list("bundle_code", flat=True).first() or ""
        if target is None or not bundle_code:
            return Revocation()
        if not _provider_revoke(
            iccid=target.iccid, bundle_code=bundle_code, livemode=order.livemode
        ):
            return Revocation(in_use=(target.iccid,))
        _revoked_record(
            order=order,
            esim=target,
            bundle_code=bundle_code,
            cost=order.cost,
            actor=actor,
            whole=False,
        )
        return Revocation(revoked=(target.iccid,))
    esims = list(order.esims.order_by("id"))
    in_use = tuple(e.iccid for e in esims if esim_in_use(e))
    if in_use:
        return Revocation(
            revoked=tuple(e.iccid for e in esims if e.status == Esim.Status.REVOKED),
            in_use=in_use,
        )
    revoked: list[str] = []
    refused: list[str] = []
    for esim in esims:
        if refused:  # the provider said one is in use: ask nothing more
            break
        (revoked if esim_revoke(order=order, esim=esim, actor=actor) else refused).append(
            esim.iccid
        )
    return Revocation(revoked=tuple(revoked), in_use=tuple(refused))
