"""When an auto top-up fires: called inside the transaction that changed an eSIM's usage
or looked at its expiry (the eSIM's row is locked there). A crossing is named by what it
crossed — the data level on the eSIM's n-th bundle, or the expiry date — and recorded
once (`AutoTopupRun`, unique per eSIM and crossing): however many usage updates report
it at once, one top-up is placed, after the transaction commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.lock_objects import esim_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.selectors import esims_expiring_within
from ttelgo.outbox import event_record, task_enqueue
from ttelgo.queues import PROVISIONING, queue_for

R = AutoTopupRun.Status
_OPEN = (R.PENDING, R.ACTION_REQUIRED)
_ORDER_OPEN = ("awaiting_payment", "paid", "in_review", "provisioning")


def auto_topup_rule_for(esim: Esim) -> AutoTopupRule | None:
    """The eSIM's own active rule, else its vendor's default rule."""
    rule = AutoTopupRule.objects.filter(esim=esim, active=True).first()
    if rule is None and esim.order.vendor_id is not None:
        rule = AutoTopupRule.objects.filter(
            vendor_id=esim.order.vendor_id, esim__isnull=True, active=True
        ).first()
    return rule


def _crossing(rule: AutoTopupRule, esim: Esim, now: datetime) -> str:
    percent, days = rule.below_percent, rule.expiry_days
    low = (
        percent is not None
        and not esim.unlimited
        and esim.initial_mb > 0
        and esim.remaining_mb * 100 <= percent * esim.initial_mb
    )
    if low:
        return f"data:{len(esim.bundles or [])}:{percent}"
    expires = esim.expires_at
    if days is not None and expires is not None and now < expires <= now + timedelta(days=days):
        return f"expiry:{expires.isoformat()}"
    return ""


def _in_flight(esim: Esim) -> bool:
    """A top-up placed for this eSIM that has not landed yet (so its bundle is not in the
    figures): a second crossing now would top up twice for one need."""
    runs = AutoTopupRun.objects.filter(esim=esim)
    return (
        runs.filter(status=R.PENDING).exists()
        # Its order placed (or waiting for the customer to confirm the payment): in
        # flight until that order lands or lapses, not for ever.
        or runs.filter(
            status__in=(R.APPLIED, R.ACTION_REQUIRED),
            order__status__in=_ORDER_OPEN,
        ).exists()
    )


def auto_topup_due(esim: Esim, *, now: datetime | None = None) -> AutoTopupRun | None:
    """Record the crossing this eSIM's state makes (if any, once) and queue its top-up."""
    if esim.status in (Esim.Status.REVOKED, Esim.Status.EXPIRED):
        return None
    rule = auto_topup_rule_for(esim)
    if rule is None:
        return None
    now = now or timezone.now()
    trigger = _crossing(rule, esim, now)
    if not trigger or AutoTopupRun.objects.filter(esim=esim, trigger=trigger).exists():
        return None
    if _in_flight(esim):
        return None
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    used = AutoTopupRun.objects.filter(
        rule=rule, esim=esim, created_at__gte=month, status__in=(R.APPLIED, *_OPEN)
    ).count()
    status = R.LIMIT_REACHED if used >= rule.monthly_limit else R.PENDING
    try:
        with transaction.atomic():
            run = AutoTopupRun.objects.create(
                rule=rule,
                esim=esim,
                trigger=trigger,
                status=status,
                detail="" if status == R.PENDING else f"{rule.monthly_limit} this month already",
            )
    except IntegrityError:
        return None  # another update recorded this crossing first
    if status == R.PENDING:
        # A test eSIM's run is test mode's work: the test pool, never the live one.
        queue = queue_for(PROVISIONING, livemode=esim.livemode)
        task_enqueue("fulfilment.tasks.auto_topup_execute", run.pk, queue=queue)
    else:
        auto_topup_event(run)
    return run


def auto_topup_event(run: AutoTopupRun) -> None:
    """`esim.auto_topup` to the vendor: what became of a firing."""
    order = run.esim.order
    if order.vendor_id is None:
        return
    event_record(
        vendor_id=order.vendor_id,
        livemode=order.livemode,
        type="esim.auto_topup",
        data={
            "iccid": run.esim.iccid,
            "rule_id": run.rule_id,
            "trigger": run.trigger,
            "status": run.status,
            "bundle_code": run.rule.bundle_code,
            "topup_order_id": run.order_id,
            "detail": run.detail,
            "customer_reference": order.customer_reference,
        },
    )


def auto_topups_expiry_check(*, now: datetime | None = None) -> int:
    """Beat job: eSIMs whose expiry is within their rule's `expiry_days`. Returns how many
    top-ups it recorded."""
    now = now or timezone.now()
    horizon = AutoTopupRule.objects.filter(active=True).aggregate(d=Max("expiry_days"))["d"]
    if not horizon:
        return 0
    candidates = esims_expiring_within(now=now, days=horizon)
    fired = 0
    for pk in candidates:
        with transaction.atomic():
            esim = esim_qs_select_for_update(of=("self",)).select_related("order").get(pk=pk)
            fired += auto_topup_due(esim, now=now) is not None
    return fired
