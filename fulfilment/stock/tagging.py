"""Tagging at the provider after a sale from stock: the eSIMs an order took from stock
were bought under a refill's reference; once the sale has committed, an outbox task
(`fulfilment.tasks.stock_order_tag`, on the provisioning queue) records the order's own
reference on each of them at the provider (eSIM Go: `PUT /esims {iccid, customerRef}`,
as provisioning tags what it buys), so the provider's records name the order that sold
each eSIM.

What holds: off the request path (never inside the sale's transaction); every call goes
through the provider layer's shared rate limiter and breaker; a transient refusal is
retried by the task with backoff; tagging is idempotent (`StockEsim.tagged_at`: an eSIM
tagged once is not sent again, and sending the same reference twice changes nothing at
the provider); an eSIM the provider refuses for good is logged and left untagged (the
sale stands: the tag is bookkeeping)."""

from __future__ import annotations

import logging

from django.utils import timezone

from fulfilment.provisioning import provider_reference_for
from fulfilment.stock.models import StockEsim
from providers import ProviderError, get_provider

logger = logging.getLogger(__name__)


def stock_order_tag(*, order_id: int) -> int:
    """Tag at the provider the eSIMs order `order_id` took from stock and that are not
    tagged yet; returns how many were tagged now. A transient provider error is raised
    (the task retries); the eSIMs tagged before it stay tagged."""
    from fulfilment.stock.refill import stock_out_alert

    sold = StockEsim.objects.filter(esim__order_id=order_id).values_list("bundle_code", "livemode")
    for bundle_code, livemode in set(sold):
        stock_out_alert(bundle_code=bundle_code, livemode=livemode)
    reference = provider_reference_for(order_id)
    rows = StockEsim.objects.filter(
        esim__order_id=order_id, status=StockEsim.Status.SOLD, tagged_at__isnull=True
    ).order_by("id")
    tagged = 0
    for row in rows:
        try:
            get_provider(row.livemode, name=row.provider or None).tag_esim(
                iccid=row.iccid, reference=reference
            )
        except ProviderError as exc:
            if exc.transient:
                raise
            logger.warning("stock eSIM %s not tagged with %s: %s", row.iccid, reference, exc)
            continue
        tagged += StockEsim.objects.filter(pk=row.pk, tagged_at__isnull=True).update(
            tagged_at=timezone.now()
        )
    return tagged
