"""Celery tasks of orders: thin, they take ids and call a service."""

from datetime import timedelta

from celery import shared_task

from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="orders.tasks.order_provision",
    acks_late=True,
    bind=True,
    max_retries=8,
)
def order_provision(self, order_id: int) -> None:  # type: ignore[no-untyped-def]
    from orders.provisioning import order_provision_run

    order_provision_run(order_id=order_id, task=self)


@shared_task(
    name="orders.tasks.order_esims_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=5,
)
def order_esims_email(order_id: int) -> None:
    from orders.notifications import order_esims_email_send

    order_esims_email_send(order_id=order_id)


@shared_task(name="orders.tasks.orders_redrive_stuck")
def orders_redrive_stuck(older_than_seconds: int = 60) -> dict[str, int]:
    from orders.provisioning import orders_redrive_stuck as redrive

    result = redrive(older_than=timedelta(seconds=older_than_seconds))
    return {
        "released": len(result.released),
        "redriven": len(result.redriven),
        "escalated": len(result.escalated),
    }


@shared_task(name="orders.tasks.esim_callback_process", acks_late=True)
def esim_callback_process(event_pk: int) -> None:
    from webhooks.esimgo import esimgo_event_process

    esimgo_event_process(event_pk=event_pk)


@shared_task(name="orders.tasks.reconciliation_run")
def reconciliation_run() -> dict[str, int]:
    """The name CELERY_BEAT_SCHEDULE uses; the job is the ledger's."""
    from ledger.reconciliation import reconciliation_run as run_it

    run = run_it()
    return {"run": run.pk, "findings": run.findings_count}
