"""Emails to customers about their eSIM's life (data running low or out, expiry), each
with the link to its install page, where the data left shows and a top-up can be bought.
Vendors hear the same moments as webhooks instead (their customers are theirs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext, ngettext

from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from ttelgo.emails import templated_email

SUBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "esim.usage_threshold": lambda d: (
        gettext("You have used %(percent)s %% of your eSIM's data") % d
    ),
    "esim.depleted": lambda d: gettext("Your eSIM's data has run out"),
    "esim.expiring": lambda d: (
        ngettext(
            "Your eSIM expires in %(days_left)s day",
            "Your eSIM expires in %(days_left)s days",
            d["days_left"],
        )
        % d
    ),
    "esim.expired": lambda d: gettext("Your eSIM has expired"),
}


def esim_lifecycle_email_send(*, esim_id: int, type: str, data: dict[str, Any]) -> bool:
    """Email the customer behind a B2C eSIM about `type`; False when there is nobody."""
    esim = Esim.objects.select_related("order__customer").filter(pk=esim_id).first()
    if esim is None or type not in SUBJECTS:
        return False
    customer = esim.order.customer
    if customer is None or not customer.email:
        return False
    context = {"esim": esim, "type": type, "data": data, "page_url": esim_page_url(esim)}
    templated_email(
        template="esim_lifecycle",
        context=context,
        to=customer.email,
        language=customer.language,
        subject=lambda: SUBJECTS[type]({"percent": "", "days_left": 0, **data}),
    ).send()
    return True
