"""What the client schema says besides its operations: the overview integrators read first
at `/api/docs/` (the schema's `info.description`), and the payload of every outbound
webhook event type (components `WebhookEvent...`, listed under `x-webhooks`).

`tests/fulfilment/test_webhook_payload_schemas.py` checks the payload schemas against
bodies the app sends.
"""

from __future__ import annotations

from typing import Any

from ttelgo.outbox import EVENT_TYPES

OVERVIEW = """\
TTelGo sells eSIMs: customers buy with a card (JWT), resellers ("vendors") buy on their
wallet or credit line (API key).

## Authentication
* **Vendors**: `Authorization: Api-Key <key>` (or `X-API-Key: <key>`). Keys are made in
  the vendor portal (`/portal/`), shown once, stored hashed and revocable. A key sent in
  the query string is refused (400 `credentials_in_query`). A vendor that is not active
  gets 403 `vendor_not_active`.
* **Customers**: `POST /api/v1/auth/register`, then `POST /api/v1/auth/token` for a JWT
  pair; send `Authorization: Bearer <access>` (15 minutes) and renew it at
  `POST /api/v1/auth/token/refresh` (the refresh token rotates).
* Operations with `security: []` take no credentials: the
  catalogue, registration, login, vendor signup and the sandbox's payment confirmation.

## Test mode
A vendor has live keys (`ttg_live_...`) and test keys (`ttg_test_...`). A test key works
on the vendor's test environment: sandbox provider, sandbox payments, a test wallet, its
own webhook endpoints. Every vendor-visible object and every webhook body carries
`livemode`; test objects never appear with a live key. Where payments run on the sandbox
gateway, `POST /api/v1/sandbox/payment_intents/{payment_intent_id}/succeed` pays an
order's PaymentIntent as a card would (`.../fail` declines it): tagged *test mode*, 404
anywhere else.

## Idempotency
Send `Idempotency-Key: <1-255 characters, a UUID>` on every POST that changes something
(required on orders, top-ups, refunds, wallet top-ups and invoice payments). The same key
with the same body returns the stored status and body again with
`Idempotent-Replayed: true`; with another body it is 422 `idempotency_key_reused`; while
the first request runs, 409 `idempotency_key_in_use` (retry after `Retry-After`). Keys
are scoped to the caller and kept 24 hours. A request refused before it started (400, or
404 for an unknown bundle or eSIM named in the body) leaves its key free for the
corrected request.

## Pagination and query parameters
Lists answer `{"count", "next", "previous", "results"}`: `?page=` from 1 and
`?page_size=` from 1 to 100 (default 20); a page past the end is an empty `results`. The
ledger statement is cursor-paginated (`next`/`previous` links only; pass their `cursor`
back unchanged). A list accepts only the query parameters it documents: an unknown
parameter, an unknown field in a body, or a bad value is 400 `validation_error` naming it.

## Errors
Every 4xx and 5xx is JSON, in one envelope:
`{"error": {"code", "message", "details", "request_id"}}`. `code` is stable and
machine-readable; `details` is typed per status: field errors for 400
(`ValidationErrorDetails`), `available`, `required`, `shortfall` for 402
(`FundsShortfallDetails`), `reason` for 409 `refund_not_allowed`, `retry_after` for 429.
Every response carries `X-Request-ID` (a valid incoming one is echoed).

## Rate limits
Per key and per client IP (logins, registrations, signups). Over the limit: 429
`rate_limited` with `Retry-After` in seconds. A 503 `temporarily_unavailable` also
carries `Retry-After` and is safe to retry with the same Idempotency-Key.

## Webhooks
Register HTTPS endpoints at `/api/v1/vendor/webhook-endpoints` (`events: ["*"]` for
every type). Each delivery is a POST of `{"id", "type", "created_at", "livemode", "data"}`
signed the Standard Webhooks way: headers `webhook-id`, `webhook-timestamp` and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`,
keyed with the endpoint's secret `whsec_...` base64-decoded after its prefix; after a
rotation two signatures, space-separated, for a day). Verify with any Standard Webhooks
library, reject timestamps older than 5 minutes, and answer 2xx quickly: anything else is
retried for about a day, with the same `webhook-id` (deduplicate on it). The payload of
each event type is the component named under `x-webhooks` (`WebhookEventOrderCompleted`
and so on).

## Generating a client
The schema generates clients as it is (tested with openapi-python-client). The QR codes
are images (`image/png`, or `image/svg+xml` with `?format=svg`): map `image/png` to
binary in your generator (openapi-python-client: `content_type_overrides:
{image/png: application/octet-stream}`).
"""

_MONEY = {"$ref": "#/components/schemas/Money"}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULL_INT = {"type": "integer", "nullable": True}

_ESIM_REFS: dict[str, Any] = {
    "iccid": _STR,
    "order_id": _INT,
    "customer_reference": {"type": "string", "description": "blank when none was given"},
}
_ESIM_USAGE: dict[str, Any] = {**_ESIM_REFS, "initial_mb": _NULL_INT, "remaining_mb": _NULL_INT}

_ORDER: dict[str, Any] = {
    "order_id": _INT,
    "kind": {"type": "string", "enum": ["esim", "topup"]},
    "status": _STR,
    "customer_reference": _STR,
    "total": _MONEY,
    "failure_reason": {"type": "string", "description": "blank unless the order failed"},
    "target_iccid": {"type": "string", "description": "the topped-up eSIM (top-ups only)"},
    "esims": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["iccid", "lpa", "smdp_address", "matching_id", "bundle_code"],
            "properties": {
                "iccid": _STR,
                "lpa": _STR,
                "smdp_address": _STR,
                "matching_id": _STR,
                "bundle_code": _STR,
                "page_url": {"type": "string", "format": "uri", "nullable": True},
            },
        },
    },
}
_REVOKED: dict[str, Any] = {**_ESIM_REFS, "bundle_code": {"type": "string", "nullable": True}}

# The `data` of each event type: (what it means, its properties, the required ones).
_SIM: dict[str, Any] = {
    "type": "object",
    "required": ["iccid", "label", "status", "msisdn"],
    "properties": {"iccid": _STR, "label": _STR, "status": _STR, "msisdn": _STR},
}
_SIM_QUOTA: dict[str, Any] = {
    "sim": _SIM,
    "quota": {"type": "string", "enum": ["data", "sms"]},
    "left": _NULL_INT,
    "total": _NULL_INT,
    "percent_left": _INT,
}

WEBHOOK_DATA: dict[str, tuple[str, dict[str, Any]]] = {
    "order.completed": ("An order was delivered; its eSIMs are in `esims`.", _ORDER),
    "order.failed": ("An order failed; what it reserved was released.", _ORDER),
    "order.refunded": (
        "An order was refunded, wholly or in part (`refund`: this refund's amount).",
        {**_ORDER, "refund": _MONEY},
    ),
    "esim.installed": ("The eSIM was installed on a device.", _ESIM_USAGE),
    "esim.bundle_started": (
        "A bundle on the eSIM started being used.",
        {**_ESIM_USAGE, "bundle_code": {"type": "string", "nullable": True}},
    ),
    "esim.usage_threshold": (
        "Data used crossed `percent` % (each level the vendor configured, once).",
        {**_ESIM_USAGE, "percent": {"type": "integer", "minimum": 1, "maximum": 100}},
    ),
    "esim.expiring": (
        "The eSIM expires in `days_left` days (sent at 3 and at 1).",
        {**_ESIM_REFS, "expires_at": {"type": "string", "format": "date-time"}, "days_left": _INT},
    ),
    "esim.depleted": ("The eSIM's data ran out.", _ESIM_USAGE),
    "esim.expired": ("The eSIM's bundles expired.", _ESIM_USAGE),
    "esim.revoked": ("The eSIM (or one bundle on it) was revoked at the provider.", _REVOKED),
    "esim.deletion_scheduled": (
        "A revoked, never-installed eSIM goes back to the provider at `deletion_at`.",
        {**_REVOKED, "deletion_at": {"type": "string", "format": "date-time"}},
    ),
    "esim.auto_topup": (
        "An auto top-up rule fired; `status` says what became of it.",
        {
            "iccid": _STR,
            "rule_id": _INT,
            "trigger": _STR,
            "status": _STR,
            "bundle_code": _STR,
            "topup_order_id": _NULL_INT,
            "detail": _STR,
            "customer_reference": _STR,
        },
    ),
    "wallet.topup_succeeded": (
        "A wallet top-up (or a postpaid payment) was paid.",
        {"payment_intent_id": _STR, "amount": _MONEY},
    ),
    "wallet.low_balance": (
        "What the wallet has available fell below the vendor's threshold.",
        {"available": _MONEY, "threshold": _MONEY},
    ),
    "invoice.issued": (
        "A postpaid invoice was issued.",
        {
            "id": _INT,
            "number": _STR,
            "period_start": {"type": "string", "format": "date"},
            "period_end": {"type": "string", "format": "date"},
            "total": _MONEY,
            "due_date": {"type": "string", "format": "date"},
        },
    ),
    # IoT SIM fleets (docs/IOT.md)
    "sim.quota_threshold": (
        "An IoT SIM's data or SMS quota fell under the alert threshold (once per crossing).",
        _SIM_QUOTA,
    ),
    "sim.quota_exhausted": (
        "An IoT SIM's data or SMS quota ran out (once per crossing).",
        _SIM_QUOTA,
    ),
    "sim.sms_received": (
        "An IoT SIM sent an SMS (a reply); `sms_id` is its id in the SMS list.",
        {"sim": _SIM, "sms_id": _INT, "text": _STR},
    ),
    "sim.status_changed": (
        "An IoT SIM was enabled or disabled (by the vendor, an operator or at 1NCE).",
        {"sim": _SIM, "previous_status": _STR},
    ),
}

# Keys that are not always in `data` (the rest are).
_OPTIONAL = {"page_url"}


def webhook_component_name(event_type: str) -> str:
    """`order.completed` -> `WebhookEventOrderCompleted`."""
    words = event_type.replace(".", "_").split("_")
    return "WebhookEvent" + "".join(w.capitalize() for w in words)


def webhook_components() -> dict[str, Any]:
    """One component per event type: the body as delivered, with its typed `data`."""
    components: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        description, properties = WEBHOOK_DATA[event_type]
        components[webhook_component_name(event_type)] = {
            "type": "object",
            "description": f"`{event_type}`: {description}",
            "required": ["id", "type", "created_at", "livemode", "data"],
            "properties": {
                "id": {"type": "string", "description": "the `webhook-id`: deduplicate on it"},
                "type": {"type": "string", "enum": [event_type]},
                "created_at": {"type": "string", "format": "date-time"},
                "livemode": {"type": "boolean"},
                "data": {
                    "type": "object",
                    "required": sorted(k for k in properties if k not in _OPTIONAL),
                    "properties": properties,
                },
            },
        }
    return components
