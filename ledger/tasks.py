"""Thin periodic tasks; the work is in ledger.invoicing."""

from celery import shared_task

from ledger import services


@shared_task(name="ledger.tasks.invoices_close_due")
def invoices_close_due() -> list[int]:
    return [invoice.id for invoice in services.invoices_close_due()]


@shared_task(name="ledger.tasks.invoices_mark_overdue")
def invoices_mark_overdue() -> int:
    return services.invoices_mark_overdue()


@shared_task(name="ledger.tasks.reconciliation_run")
def reconciliation_run() -> dict[str, int]:
    from ledger.reconciliation import reconciliation_run as run_it

    run = run_it()
    return {"run": run.pk, "findings": run.findings_count}
