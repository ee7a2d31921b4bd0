"""Low-balance alerts: a prepaid vendor hears once when what it can spend falls below its
threshold, and again only after it climbed back above it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ttelgo.money import Money
from ttelgo.outbox import event_record
from vendors.models import Vendor
from vendors.services import vendor_notify


def vendor_low_balance_due(*, vendor: Vendor, available: Money) -> bool:
    """Whether a wallet movement that left `available` calls for `vendor_low_balance_check`
    (a task): for a prepaid vendor with a threshold, when the alert would fire (not alerted,
    now below) or re-arm (alerted, back above). Every other order skips it."""
    if vendor.billing_mode != Vendor.BillingMode.PREPAID or vendor.low_balance_threshold <= 0:
        return False
    below = available.amount < vendor.low_balance_threshold
    return below == (vendor.low_balance_alerted_at is None)


def vendor_low_balance_check(*, vendor: Vendor, available: Money) -> bool:
    """Publish `wallet.low_balance` (and email the vendor) once when a prepaid vendor's
    `available` funds are below its threshold; re-armed once they are back above it.
    Enqueue `billing.tasks.vendor_low_balance_check` through the outbox after anything
    that moves a wallet: the task reads the balance. Returns whether the alert fired now."""
    if vendor.billing_mode != Vendor.BillingMode.PREPAID or vendor.low_balance_threshold <= 0:
        return False
    threshold = Money(vendor.low_balance_threshold, vendor.currency)
    with transaction.atomic():
        if not available < threshold:
            Vendor.objects.filter(pk=vendor.pk, low_balance_alerted_at__isnull=False).update(
                low_balance_alerted_at=None
            )
            return False
        # Compare-and-set: concurrent checks fire the alert once.
        fired = Vendor.objects.filter(pk=vendor.pk, low_balance_alerted_at__isnull=True).update(
            low_balance_alerted_at=timezone.now()
        )
        if fired:
            event_record(
                vendor_id=vendor.pk,
                livemode=vendor.livemode,
                type="wallet.low_balance",
                data={"available": available.to_api(), "threshold": threshold.to_api()},
            )
            vendor_notify(
                vendor=vendor, template="low_balance", available=available, threshold=threshold
            )
    return bool(fired)
