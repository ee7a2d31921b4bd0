"""Thin Celery tasks: ids in, services do the work."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.delivery_send", ignore_result=True)
def delivery_send(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


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
