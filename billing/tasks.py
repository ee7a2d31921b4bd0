"""Thin periodic tasks; the work is in billing.invoicing."""

from celery import shared_task

from billing import invoicing
from billing.alerts import vendor_low_balance_check as low_balance_check
from billing.selectors import vendor_balance
from vendors.models import Vendor


@shared_task(name="billing.tasks.invoices_close_due")
def invoices_close_due() -> list[int]:
    return [invoice.id for invoice in invoicing.invoices_close_due()]


@shared_task(name="billing.tasks.vendor_low_balance_check", ignore_result=True)
def vendor_low_balance_check(vendor_id: int) -> None:
    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is not None:
        low_balance_check(vendor=vendor, available=vendor_balance(vendor=vendor).available)


# Alias: the name this task had in the vendors app, so messages queued under it before
# the rename (in the broker, in outbox rows) still run. Remove one release after the
# rename, once no worker can find the old name queued.
vendor_low_balance_check_old_name = shared_task(
    name="vendors.tasks.vendor_low_balance_check", ignore_result=True
)(vendor_low_balance_check.run)


@shared_task(name="billing.tasks.invoices_mark_overdue")
def invoices_mark_overdue() -> int:
    return invoicing.invoices_mark_overdue()
