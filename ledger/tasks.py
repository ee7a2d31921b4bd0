"""Thin periodic tasks; the work is in ledger.invoicing."""

from celery import shared_task

from ledger import services


@shared_task(name="ledger.tasks.invoices_close_due")
def invoices_close_due() -> list[int]:
    return [invoice.id for invoice in services.invoices_close_due()]


@shared_task(name="ledger.tasks.invoices_mark_overdue")
def invoices_mark_overdue() -> int:
    return services.invoices_mark_overdue()
