"""Standard Webhooks signing (the `standardwebhooks` library does the HMAC)."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook


def sign_headers(*, secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "TTelGo-Webhooks/1",
    }
