"""Row locks on tickets: every `select_for_update` on a ticket goes through here
(Saleor's `lock_objects`). `of=("self",)` keeps a `select_related` join unlocked."""

from __future__ import annotations

from django.db.models import QuerySet

from support.models import Ticket


def ticket_qs_select_for_update(*, of: tuple[str, ...] = ()) -> QuerySet[Ticket]:
    return Ticket.objects.select_for_update(of=of)
