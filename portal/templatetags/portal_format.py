"""The portal's formats: `{{ moment|when }}`, a time in the vendor's zone (the portal page
activates it) with the zone named, as a <time> element that carries the exact instant;
`{{ order_id|order_ref }}`, an order's public id (portal/public_ids.py)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from portal.public_ids import order_public_id

register = template.Library()


@register.filter
def when(value: datetime | None, fmt: str = "Y-m-d H:i") -> SafeString | str:
    """ "2026-12-07 19:30 Europe/Madrid"; "" for no time."""
    if not isinstance(value, datetime):
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}">{} {}</time>',
        value.isoformat(),
        date_format(local, fmt),
        timezone.get_current_timezone_name(),
    )


@register.filter
def order_ref(order_id: int | None) -> str:
    """ "ord_5k2m9x0c7rq1d" for an order's integer id; "" for none."""
    return order_public_id(int(order_id)) if order_id else ""
