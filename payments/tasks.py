"""Thin Celery tasks of payments.

`payments.fees` is imported inside its tasks, not here: the upgrade test loads this module
beside an older checkout's ledger (Celery's task discovery), and the fees need ledger
selectors that checkout does not have."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from payments.gateways import GatewayError
from payments.services import payment_refund_for_order
from ttelgo.errors import DomainError
from ttelgo.transient import DATABASE_FAULTS


@shared_task(
    name="payments.tasks.order_payment_refund",
    acks_late=True,
    autoretry_for=(DomainError, OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def order_payment_refund(order_id: int, reason: str, actor_id: int | None = None) -> None:
    """Refund an order's card payment after the transaction that decided it committed (no
    gateway call inside it). Our refund row is the gateway's idempotency key, and a retry
    once nothing is left to refund does nothing."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    payment_refund_for_order(order_id=order_id, reason=reason, actor=actor)


@shared_task(
    name="payments.tasks.card_fees_book",
    acks_late=True,
    autoretry_for=(GatewayError, OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=6,
    ignore_result=True,
)
def card_fees_book(payment_id: int, source: str = "") -> None:
    """Book the gateway's fee for a charge, refund or dispute once its own posting
    committed; the beat sweep catches what this gives up on."""
    from payments import fees  # read when the task runs (see the module note)

    fees.card_fees_book_for(payment_id=payment_id, source=source)


@shared_task(name="payments.tasks.card_fees_sweep", ignore_result=True)
def card_fees_sweep() -> int:
    from payments import fees  # read when the task runs (see the module note)

    return fees.card_fees_sweep()


@shared_task(name="payments.tasks.payouts_record", ignore_result=True)
def payouts_record() -> int:
    from payments import fees  # read when the task runs (see the module note)

    return fees.payouts_record()


@shared_task(
    name="payments.tasks.topup_receipt_email",
    acks_late=True,
    autoretry_for=(OSError, *DATABASE_FAULTS),
    retry_backoff=True,
    max_retries=6,
    ignore_result=True,
)
def topup_receipt_email(payment_id: int) -> None:
    """Email a succeeded wallet top-up's receipt (payments/receipts.py)."""
    from payments.receipts import topup_receipt_email_send

    topup_receipt_email_send(payment_id=payment_id)
