"""Celery tasks of orders: thin, they take ids and call a service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from fulfilment import emails as customer_emails
from fulfilment import esim_emails
from fulfilment import services as esim_services
from orders import services
from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="orders.tasks.order_provision",
    acks_late=True,
    bind=True,
    max_retries=8,
)
def order_provision(self, order_id: int) -> None:  # type: ignore[no-untyped-def]
    from fulfilment.provisioning import order_provision_run

    order_provision_run(order_id=order_id, task=self)


@shared_task(
    name="orders.tasks.order_esims_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=5,
)
def order_esims_email(order_id: int, to: str = "") -> None:
    from fulfilment.notifications import order_esims_email_send

    order_esims_email_send(order_id=order_id, to=to)


@shared_task(name="orders.tasks.orders_redrive_stuck")
def orders_redrive_stuck(older_than_seconds: int = 60) -> dict[str, int]:
    from fulfilment.provisioning import orders_redrive_stuck as redrive

    result = redrive(older_than=timedelta(seconds=older_than_seconds))
    return {
        "released": len(result.released),
        "redriven": len(result.redriven),
        "escalated": len(result.escalated),
    }


@shared_task(name="orders.tasks.orders_awaiting_payment_expire")
def orders_awaiting_payment_expire() -> int:
    window = timedelta(seconds=settings.ORDER_PAYMENT_WINDOW_SECONDS)
    return len(services.orders_awaiting_payment_expire(older_than=window))


@shared_task(name="orders.tasks.esims_usage_refresh", ignore_result=True)
def esims_usage_refresh() -> int:
    """Beat job: refresh cached usage of live eSIMs."""
    from fulfilment.services import esims_usage_refresh_due

    return esims_usage_refresh_due()


@shared_task(name="orders.tasks.esims_expiry_notify", ignore_result=True)
def esims_expiry_notify() -> int:
    return esim_services.esims_expiry_notify()


@shared_task(
    name="orders.tasks.customer_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def customer_email(order_id: int, kind: str, data: dict) -> None:
    customer_emails.customer_email_send(order_id=order_id, kind=kind, data=data)


@shared_task(name="orders.tasks.esim_lifecycle_email", ignore_result=True)
def esim_lifecycle_email(esim_id: int, type: str, data: dict) -> None:
    esim_emails.esim_lifecycle_email_send(esim_id=esim_id, type=type, data=data)


@shared_task(name="orders.tasks.orders_delivery_guarantee", ignore_result=True)
def orders_delivery_guarantee() -> list[int]:
    from fulfilment.provisioning import orders_delivery_guarantee as guarantee

    return guarantee()


@shared_task(name="orders.tasks.orders_late_deliveries_revoke", ignore_result=True)
def orders_late_deliveries_revoke() -> list[int]:
    from fulfilment.provisioning import orders_late_deliveries_revoke as revoke

    return revoke()


@shared_task(name="orders.tasks.esim_refunds_resume", ignore_result=True)
def esim_refunds_resume() -> list[int]:
    from fulfilment.refunds import esim_refunds_resume as resume

    return resume()


@shared_task(name="orders.tasks.provider_refunds_collect", ignore_result=True)
def provider_refunds_collect() -> list[int]:
    from fulfilment.provider_refunds import provider_refunds_collect as collect

    return collect()


@shared_task(name="orders.tasks.auto_topups_expiry_check", ignore_result=True)
def auto_topups_expiry_check() -> int:
    from fulfilment.auto_topups.triggers import auto_topups_expiry_check as check

    return check()


@shared_task(
    name="orders.tasks.auto_topup_execute",
    acks_late=True,
    autoretry_for=DATABASE_FAULTS,
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def auto_topup_execute(run_id: int) -> None:
    from fulfilment.auto_topups.services import auto_topup_execute as execute

    execute(run_id=run_id)
