"""Standard Webhooks signing (the `standardwebhooks` library does the HMAC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook


def sign_headers(
    *, secret: str, msg_id: str, timestamp: datetime, body: str, also: Sequence[str] = ()
) -> dict[str, str]:
    """Standard Webhooks headers. `also` are further secrets that sign the same message
    (an old secret during a rotation's overlap): the signatures are space-separated, and
    a receiver that knows any one of the secrets accepts the message."""
    signature = " ".join(
        Webhook(key).sign(msg_id=msg_id, timestamp=timestamp, data=body) for key in (secret, *also)
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "TTelGo-Webhooks/1",
    }
