"""Celery tasks of orders: thin, they take ids and call a service."""

from celery import shared_task


@shared_task(
    name="orders.tasks.order_provision",
    acks_late=True,
    bind=True,
    max_retries=8,
)
def order_provision(self, order_id: int) -> None:  # type: ignore[no-untyped-def]
    from orders.provisioning import order_provision_run

    order_provision_run(order_id=order_id, task=self)
