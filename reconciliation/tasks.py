"""The daily reconciliation job (beat); the work is in reconciliation.services."""

from celery import shared_task

from reconciliation import services


@shared_task(name="reconciliation.tasks.reconciliation_run")
def reconciliation_run() -> dict[str, int]:
    run = services.reconciliation_run()
    return {"run": run.pk, "findings": run.findings_count}
