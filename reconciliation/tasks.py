"""The daily reconciliation job (beat); the work is in reconciliation.services."""

from celery import shared_task

from reconciliation import services


@shared_task(name="reconciliation.tasks.reconciliation_run")
def reconciliation_run() -> dict[str, int]:
    run = services.reconciliation_run()
    return {"run": run.pk, "findings": run.findings_count}


@shared_task(name="reconciliation.tasks.reconciliation_execute", ignore_result=True)
def reconciliation_execute(run_id: int) -> None:
    services.reconciliation_execute(run_id=run_id)


@shared_task(name="reconciliation.tasks.reconciliation_runs_sweep", ignore_result=True)
def reconciliation_runs_sweep() -> int:
    return services.runs_sweep_stale()
