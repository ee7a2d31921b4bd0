"""Celery tasks of the portal: thin, they take ids and call a service."""

from celery import shared_task

from portal import bulk
from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="portal.tasks.bulk_order_place",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def bulk_order_place(bulk_id: int) -> None:
    """Queued (through the outbox) when a clean CSV file is uploaded; safe to run again."""
    bulk.bulk_order_place(bulk_id=bulk_id)
