"""Row locks on the outbox: every `select_for_update` on an outbox message goes through
here (Saleor's `lock_objects`); `skip_locked` lets relays take what nobody else holds."""

from __future__ import annotations

from django.db.models import QuerySet

from ttelgo.models import OutboxMessage


def outbox_message_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.select_for_update(skip_locked=skip_locked)
