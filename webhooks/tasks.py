"""Thin Celery tasks: ids in, services do the work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task

from ttelgo.transient import DATABASE_FAULTS
from webhooks import services


@shared_task(name="webhooks.tasks.delivery_send", ignore_result=True)
def delivery_send(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(
    name="webhooks.tasks.event_publish",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def event_publish(vendor_id: int, type: str, data: dict[str, Any], public_id: str, at: str) -> None:
    """Queued by `ttelgo.outbox.event_record` in the transaction that recorded the event."""
    services.event_publish(
        vendor_id=vendor_id,
        type=type,
        data=data,
        public_id=public_id,
        created_at=datetime.fromisoformat(at),
    )


@shared_task(name="webhooks.tasks.deliveries_send_due", ignore_result=True)
def deliveries_send_due() -> int:
    return services.deliveries_queue_due()


@shared_task(name="webhooks.tasks.inbound_event_process", ignore_result=True)
def inbound_event_process_task(event_id: int) -> None:
    from webhooks.inbound import inbound_event_process

    inbound_event_process(event_id=event_id)


@shared_task(name="webhooks.tasks.esim_callback_process", acks_late=True, ignore_result=True)
def esim_callback_process(event_pk: int) -> None:
    from webhooks.esimgo import esimgo_event_process

    esimgo_event_process(event_pk=event_pk)


# Alias: the name this task had in the orders app, so messages queued under it before the
# rename (in the broker, in outbox rows) still run. Remove one release after the rename,
# once no worker can find the old name queued.
esim_callback_process_old_name = shared_task(
    name="orders.tasks.esim_callback_process", acks_late=True, ignore_result=True
)(esim_callback_process.run)


@shared_task(name="webhooks.tasks.inbound_events_redrive", ignore_result=True)
def inbound_events_redrive() -> int:
    from webhooks.inbound import inbound_events_queue_due

    return inbound_events_queue_due()
