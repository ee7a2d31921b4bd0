"""Celery tasks of fulfilment: thin, they take ids and call a service.

Each task is registered under its module's name (`fulfilment.tasks.<name>`) and, until
the messages queued before fulfilment moved out of orders have drained, under the name it
had there (`orders.tasks.<name>`): the same function with the same options, routed to the
same queue (settings.TASK_NAME_ALIASES). REMOVE the `orders.tasks.*` names (here and in
TASK_NAME_ALIASES) one release after the move, once no broker or outbox holds one."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task

from fulfilment import emails, services
from providers import ProviderError
from ttelgo.transient import DATABASE_FAULTS


def fulfilment_task(name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register a task as `fulfilment.tasks.<name>` and its alias `orders.tasks.<name>`
    (same function, same options; settings.TASK_NAME_ALIASES routes both alike)."""

    def register(function: Callable[..., Any]) -> Any:
        shared_task(name=f"orders.tasks.{name}", **options)(function)
        return shared_task(name=f"fulfilment.tasks.{name}", **options)(function)

    return register


@fulfilment_task("order_provision", acks_late=True, bind=True, max_retries=8)
def order_provision(self, order_id: int) -> None:  # type: ignore[no-untyped-def]
    from fulfilment.provisioning import order_provision_run

    order_provision_run(order_id=order_id, task=self)


@fulfilment_task(
    "order_esims_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=5,
)
def order_esims_email(order_id: int, to: str = "") -> None:
    emails.order_esims_email_send(order_id=order_id, to=to)


@fulfilment_task("orders_redrive_stuck")
def orders_redrive_stuck(older_than_seconds: int = 60) -> dict[str, int]:
    from fulfilment.recovery import orders_redrive_stuck as redrive

    result = redrive(older_than=timedelta(seconds=older_than_seconds))
    return {
        "released": len(result.released),
        "redriven": len(result.redriven),
        "escalated": len(result.escalated),
    }


@fulfilment_task("esims_usage_refresh", ignore_result=True)
def esims_usage_refresh() -> int:
    """Beat job: refresh cached usage of live eSIMs."""
    from fulfilment.services import esims_usage_refresh_due

    return esims_usage_refresh_due()


@fulfilment_task("esims_expiry_notify", ignore_result=True)
def esims_expiry_notify() -> int:
    return services.esims_expiry_notify()


@fulfilment_task(
    "customer_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def customer_email(order_id: int, kind: str, data: dict) -> None:
    emails.customer_email_send(order_id=order_id, kind=kind, data=data)


@fulfilment_task("esim_lifecycle_email", ignore_result=True)
def esim_lifecycle_email(esim_id: int, type: str, data: dict) -> None:
    emails.esim_lifecycle_email_send(esim_id=esim_id, type=type, data=data)


@fulfilment_task("orders_delivery_guarantee", ignore_result=True)
def orders_delivery_guarantee() -> list[int]:
    from fulfilment.recovery import orders_delivery_guarantee as guarantee

    return guarantee()


@fulfilment_task("orders_late_deliveries_revoke", ignore_result=True)
def orders_late_deliveries_revoke() -> list[int]:
    from fulfilment.recovery import orders_late_deliveries_revoke as revoke

    return revoke()


@fulfilment_task("esim_refunds_resume", ignore_result=True)
def esim_refunds_resume() -> list[int]:
    from fulfilment.refunds import esim_refunds_resume as resume

    return resume()


@fulfilment_task("provider_refunds_collect", ignore_result=True)
def provider_refunds_collect() -> list[int]:
    """Settle the provider refunds that arrived: of revoked bundles of orders, and of
    stock given back (fulfilment/stock/refunds.py). Returns the order refunds settled."""
    from fulfilment.provider_refunds import provider_refunds_collect as collect
    from fulfilment.stock.refunds import stock_refunds_collect

    settled = collect()
    stock_refunds_collect()
    return settled


@fulfilment_task("auto_topups_expiry_check", ignore_result=True)
def auto_topups_expiry_check() -> int:
    from fulfilment.auto_topups.triggers import auto_topups_expiry_check as check

    return check()


@fulfilment_task(
    "auto_topup_execute",
    acks_late=True,
    autoretry_for=DATABASE_FAULTS,
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def auto_topup_execute(run_id: int) -> None:
    from fulfilment.auto_topups.services import auto_topup_execute as execute

    execute(run_id=run_id)


@shared_task(
    name="fulfilment.tasks.stock_order_tag",
    acks_late=True,
    autoretry_for=(ProviderError, *DATABASE_FAULTS),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
    ignore_result=True,
)
def stock_order_tag(order_id: int) -> int:
    """Tag at the provider the eSIMs an order took from stock (fulfilment/stock/tagging.py);
    a transient provider error retries with backoff."""
    from fulfilment.stock.tagging import stock_order_tag as tag

    return tag(order_id=order_id)


@shared_task(
    name="fulfilment.tasks.stock_out_check",
    acks_late=True,
    autoretry_for=(*DATABASE_FAULTS,),
    retry_backoff=5,
    max_retries=5,
    ignore_result=True,
)
def stock_out_check(bundle_code: str, livemode: bool) -> int:
    """After a sale that took a bundle's last stock eSIM (or found none): tell operators
    once that it ran out (fulfilment/stock/refill.py `stock_out_alert`)."""
    from fulfilment.stock.refill import stock_out_alert

    return len(stock_out_alert(bundle_code=bundle_code, livemode=livemode))


# Ready stock (new with the stock: no `orders.tasks` name to keep).
@shared_task(name="fulfilment.tasks.stock_refill", ignore_result=True)
def stock_refill(bundle_code: str | None = None, requested_by: str = "") -> int:
    from fulfilment.stock.refill import stock_refill_run

    return stock_refill_run(bundle_code=bundle_code, requested_by=requested_by).bought


@shared_task(name="fulfilment.tasks.stock_age", ignore_result=True)
def stock_age() -> int:
    from fulfilment.stock.ageing import stock_age_run

    report = stock_age_run()
    return len(report.revoked) + len(report.written_off)
