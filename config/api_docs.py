"""The public API's documentation, written for integrators, applied to the generated
OpenAPI schema (drf-spectacular hooks, `SPECTACULAR_SETTINGS`).

* `endpoints_public` (preprocessing) keeps the sandbox's test hooks and the inbound
  webhooks (Stripe's and the provider's) out of the client schema.
* `schema_document` (postprocessing) gives every operation its summary and description
  from `OPERATIONS`, every error it can answer (the `ErrorEnvelope` component, with an
  example of each code), the `Idempotency-Key` header where a POST takes it (required
  where it is), and request/response examples that work against `make run`.

An operation added without an entry in `OPERATIONS` fails `tests/core/test_api_docs.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from config.api_overview import OVERVIEW, webhook_component_name, webhook_components
from ttelgo.errors import STATUS_BY_CODE
from ttelgo.outbox import EVENT_TYPES

# Paths that are not part of the client API (the inbound webhooks, the sandbox's hooks)...
PRIVATE_PREFIXES = ("/api/v1/sandbox/", "/api/v1/webhooks/")
# ...except the sandbox's payment confirmation, which a test-mode integrator needs.
SANDBOX_PUBLIC = (
    "/api/v1/sandbox/payment_intents/{payment_intent_id}/succeed",
    "/api/v1/sandbox/payment_intents/{payment_intent_id}/fail",
)

# POSTs whose Idempotency-Key is required (the rest accept it).
IDEMPOTENCY_REQUIRED = {
    "orders_create",
    "esims_topups_create",
    "vendor_orders_create",
    "vendor_esims_topups_create",
    "vendor_wallet_topup_create",
    "vendor_invoice_pay",
    "esims_refund_create",
    "vendor_esims_refund_create",
    "vendor_iot_sims_topups_create",
    "vendor_sub_vendor_create",
    "vendor_sub_vendor_credit_limit_set",
    "vendor_sub_vendor_transfer_create",
}

# POSTs that take no Idempotency-Key (credentials in, tokens out: never stored).
IDEMPOTENCY_NONE = {"auth_token_create", "auth_token_refresh_create"}

BUNDLE = "esim_1GB_7D_GB_V2"  # in the make run catalogue
TOPUP_BUNDLE = "esim_2GB_7D_GB_V2"
ICCID = "8944500000000000017"

MONEY_EXAMPLE = {"amount": "4.50", "currency": "USD"}
ESIM_EXAMPLE = {
    "iccid": ICCID,
    "status": "released",
    "bundle_code": BUNDLE,
    "lpa": "LPA:1$rsp.sandbox.example$K2-ABCDEF-123456",
    "smdp_address": "rsp.sandbox.example",
    "matching_id": "K2-ABCDEF-123456",
    "activation": {
        "ios_url": "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$rsp.sandbox.example$K2-ABCDEF-123456"
    },
    "data": {"initial_mb": 1000, "remaining_mb": 1000, "unlimited": False},
    "expires_at": None,
    "order_id": 42,
}

ORDER_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "kind": "esim",
    "status": "provisioning",
    "items": [
        {
            "bundle_code": BUNDLE,
            "bundle_name": "United Kingdom 1 GB, 7 days",
            "quantity": 1,
            "unit_price": MONEY_EXAMPLE,
        }
    ],
    "total": MONEY_EXAMPLE,
    "esims": [],
    "customer_reference": "booking-1042",
    "created_at": "2026-11-29T10:00:00Z",
}


@dataclass(frozen=True)
class Doc:
    summary: str
    description: str
    # Error codes beyond the ones every operation of its kind can answer.
    errors: tuple[str, ...] = ()
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: dict[str, Doc] = {
    # --- customers: accounts -----------------------------------------------------------
    "auth_register_create": Doc(
        "Create a customer account",
        "Registers a customer with an email and a password (at least 10 characters, not "
        "a common one) and returns the account. Log in with `POST /auth/token` next. "
        "Throttled per client IP.",
        errors=("validation_error", "conflict"),
        request={"email": "traveller@example.com", "password": "a-long-passphrase"},
    ),
    "auth_token_create": Doc(
        "Log in",
        "Exchanges a customer's email and password for a JWT pair: send `access` as "
        "`Authorization: Bearer <access>` (valid 15 minutes) and renew it with `refresh` "
        "at `POST /auth/token/refresh`. Wrong credentials are 401. Throttled per client IP. "
        "An account with two-factor authentication also sends its code as `otp` (from its "
        "authenticator app, or a recovery code; each good once): without it 401 "
        "`otp_required`, a wrong one 401 `otp_invalid`. Staff accounts get no customer "
        "tokens (403 `staff_not_allowed`).",
        errors=("not_authenticated", "otp_required", "otp_invalid", "staff_not_allowed"),
        request={"email": "traveller@example.com", "password": "a-long-passphrase"},
    ),
    "auth_token_refresh_create": Doc(
        "Renew the access token",
        "Exchanges a refresh token for a new access token and a new refresh token; the old "
        "refresh token stops working (rotation). An expired or reused refresh token is 401; "
        "so is one of an account with two-factor authentication issued without its code "
        "(`otp_required`: log in again with `otp`).",
        errors=("not_authenticated", "otp_required", "staff_not_allowed"),
    ),
    "me_retrieve": Doc(
        "The logged-in customer",
        "The account behind the access token, with the `language` its emails are written "
        "in (en, es, fr or de; taken from the browser at registration).",
    ),
    "me_partial_update": Doc(
        "Change my language",
        "The language of the customer's emails and support answers: `en`, `es`, `fr` or `de`.",
        request={"language": "es"},
    ),
    # --- catalogue -----------------------------------------------------------------------
    "catalogue_bundles_list": Doc(
        "List bundles",
        "The public catalogue at retail prices, paginated. Filter with `country` (ISO code, "
        "e.g. `GB`), `region`, `unlimited`; order with `ordering=price|-price|data|validity`. "
        "No authentication. Unknown query parameters are 400.",
    ),
    "catalogue_bundles_retrieve": Doc(
        "One bundle", "A bundle by its code, with the countries it covers and its price."
    ),
    "catalogue_countries_list": Doc(
        "List countries", "Every country the catalogue covers, with how many bundles each has."
    ),
    # --- customers: orders and eSIMs -----------------------------------------------------
    "orders_create": Doc(
        "Buy eSIMs",
        "Creates an order for `quantity` eSIMs of a bundle and a Stripe PaymentIntent for "
        "its total. Confirm the payment with `payment.client_secret` (Stripe.js; under "
        "`make run`, the sandbox). Once Stripe confirms it the order is provisioned and "
        "its eSIMs appear on `GET /orders/{id}`. A declined card leaves the order "
        "`awaiting_payment` so another card can pay the same intent. The "
        "`Idempotency-Key` header is required: a retry with the same key returns the "
        "first answer. A `bundle_code` that names no bundle is 404 `not_found` (nothing is "
        "created, and the `Idempotency-Key` stays free for the corrected request).",
        errors=("bundle_unavailable", "not_found"),
        request={"bundle_code": BUNDLE, "quantity": 1},
    ),
    "orders_list": Doc(
        "List my orders",
        "The customer's orders, newest first, paginated. Filter with `status`, "
        "`created_from` and `created_to` (ISO dates).",
    ),
    "orders_retrieve": Doc(
        "One order",
        "An order of the customer's with its items, payment and, once completed, its "
        "eSIMs. Another customer's order is 404.",
    ),
    "orders_cancel_create": Doc(
        "Cancel an unpaid order",
        "Cancels an order still awaiting payment, and its PaymentIntent. An order being "
        "paid or already paid is 409 `invalid_state`.",
        errors=("invalid_state",),
    ),
    "esims_list": Doc("List my eSIMs", "The customer's eSIMs, newest first, paginated."),
    "esims_retrieve": Doc(
        "One eSIM",
        "An eSIM with its activation data: the LPA string, the SM-DP+ address and matching "
        "id for manual entry, and `activation.ios_url` for one-tap install on iOS 17.4+.",
    ),
    "esims_qr_retrieve": Doc(
        "The eSIM's QR code",
        "The LPA string as a QR code: PNG by default, SVG with `?format=svg` or "
        "`Accept: image/svg+xml`. Any other `format` is 400 `validation_error` naming it. "
        "A revoked eSIM is 409.",
        errors=("invalid_state",),
    ),
    "esims_usage_retrieve": Doc(
        "The eSIM's data usage",
        "Data left and used, refreshed from the provider when the cached figures are "
        "older than 5 minutes (`updated_at` tells their age), with each bundle on the eSIM "
        "listed: its state, data and expiry.",
    ),
    "esims_topups_create": Doc(
        "Top up an eSIM",
        "Buys another bundle for one of the customer's eSIMs: an order of kind `topup` "
        "paid by card like `POST /orders`. A bundle the eSIM cannot take is 409 "
        "`bundle_incompatible`; a revoked eSIM is 409 `invalid_state`. `Idempotency-Key` "
        "is required.",
        errors=("bundle_incompatible", "bundle_unavailable", "invalid_state"),
        request={"bundle_code": TOPUP_BUNDLE},
    ),
    "esims_refund_create": Doc(
        "Refund an unused eSIM",
        "Asks for the refund of an eSIM that was never installed, within 30 days of its "
        "delivery: it is revoked at the provider (its QR stops working) and its share of "
        "the order goes back to the card (`status: refunded`). A request on a disputed "
        "order waits for an operator (`in_review`). An installed or used eSIM, one outside "
        "the window or one already refunded is 409 `refund_not_allowed`, with the reason "
        "in `details.reason`. `Idempotency-Key` is required.",
        errors=("refund_not_allowed",),
        request={"reason": "Trip cancelled, never installed"},
        response={"id": 7, "status": "refunded", "amount": MONEY_EXAMPLE},
    ),
    # --- vendors: onboarding --------------------------------------------------------------
    "vendors_signup_create": Doc(
        "Apply as a reseller",
        "Creates a pending vendor account; an operator reviews and approves it, and the "
        "contact is emailed. A second signup with the same email while one is pending is "
        "409. Throttled per client IP.",
        errors=("conflict",),
        request={
            "company_name": "Globetrotter Travel Ltd",
            "contact_email": "ops@globetrotter.example",
            "country": "GB",
            "billing_mode": "prepaid",
        },
    ),
    # --- vendors: catalogue and orders ---------------------------------------------------
    "vendor_catalogue_list": Doc(
        "List bundles at my prices",
        "The catalogue at this vendor's prices (retail minus its tier discount), with the "
        "same filters as the public catalogue. `in_stock: true` marks a bundle held in "
        "ready stock now (in the key's mode): an order of it is answered `201` "
        "`completed` with its eSIMs. No counts are given, and it can change at any moment "
        "(an order that finds stock empty is provisioned as usual).",
    ),
    "vendor_orders_create": Doc(
        "Buy eSIMs for a customer",
        "Reserves the order's total on the vendor's wallet (prepaid) or credit line "
        "(postpaid) at once and provisions the eSIMs in the background: the answer is "
        "`provisioning` (or `in_review` when fraud rules hold it), and the order turns "
        "`completed` with its eSIMs within seconds for small orders (the `order.completed` "
        "webhook, or poll `GET /vendor/orders/{id}`). A bundle held in ready stock "
        "(`in_stock` in the catalogue) is delivered in this request instead: the `201` is "
        "`completed` with its `esims` (ICCID, `lpa`, `activation.ios_url` for one-tap "
        "install, `page_url` with the QR; the QR image is `GET /vendor/esims/{iccid}/qr`), "
        "in the same shape as `GET /vendor/orders/{id}`, and `order.completed` is sent as "
        "usual. Not "
        "enough funds is 402 `insufficient_funds` (prepaid) or `credit_limit_exceeded` "
        "(postpaid), with `available`, `required` and `shortfall` in `details`; nothing "
        "is created then. With `customer_email` (and `customer_language`: en, es, fr, de) "
        "the end customer is emailed the eSIMs once delivered, under the vendor's brand. "
        "`Idempotency-Key` is required. A `bundle_code` that names no bundle is 404 "
        "`not_found` (nothing is created, and the `Idempotency-Key` stays free for the "
        "corrected request).",
        errors=(
            "not_found",
            "insufficient_funds",
            "credit_limit_exceeded",
            "bundle_unavailable",
            "invalid_state",
        ),
        request={"bundle_code": BUNDLE, "quantity": 1, "customer_reference": "booking-1042"},
        response=ORDER_EXAMPLE,
    ),
    "vendor_orders_list": Doc(
        "List my orders",
        "The vendor's orders, newest first, paginated. Filter with `status`, "
        "`customer_reference`, `created_from` and `created_to`. With `sub_vendor` (the id "
        "of a sub-vendor of yours, at any level below you), that sub-vendor's orders "
        "instead; anyone else's id is 404.",
        errors=("not_found",),
    ),
    "vendor_orders_retrieve": Doc(
        "One order",
        "An order of this vendor's, with its eSIMs once completed.",
        response={**ORDER_EXAMPLE, "status": "completed", "esims": [ESIM_EXAMPLE]},
    ),
    "vendor_esims_list": Doc(
        "List my eSIMs",
        "The vendor's eSIMs, newest first. Filter with `status`, `bundle_code`, "
        "`customer_reference` and `iccid`.",
    ),
    "vendor_esims_retrieve": Doc(
        "One eSIM", "An eSIM of this vendor's, with its activation data (LPA, iOS link)."
    ),
    "vendor_esims_qr_retrieve": Doc(
        "The eSIM's QR code",
        "PNG by default, SVG with `?format=svg`; another `format` is 400 `validation_error` "
        "naming it, a revoked eSIM 409.",
        errors=("invalid_state",),
    ),
    "vendor_esims_usage_retrieve": Doc(
        "The eSIM's data usage",
        "Totals and each bundle's state, data and expiry, refreshed from the provider "
        "when older than 5 minutes.",
    ),
    "vendor_esims_topups_create": Doc(
        "Top up an eSIM",
        "Applies another bundle to one of the vendor's eSIMs, paid like an order from the "
        "wallet or credit line. A bundle the eSIM cannot take is 409 "
        "`bundle_incompatible`. `Idempotency-Key` is required.",
        errors=(
            "insufficient_funds",
            "credit_limit_exceeded",
            "bundle_incompatible",
            "bundle_unavailable",
            "invalid_state",
        ),
        request={"bundle_code": TOPUP_BUNDLE},
    ),
    "vendor_esims_refund_create": Doc(
        "Refund an unused eSIM",
        "Asks for the refund of one of the vendor's eSIMs that was never installed, within "
        "30 days of its delivery: it is revoked at the provider (`esim.revoked` webhook) "
        "and its share of the order goes back to the wallet or off the receivable "
        "(`order.refunded`). A request on a disputed order waits for an operator "
        "(`in_review`). An installed or used eSIM, one outside the window or one already "
        "refunded is 409 `refund_not_allowed` with the reason in `details.reason`. "
        "`Idempotency-Key` is required.",
        errors=("refund_not_allowed",),
        request={"reason": "Traveller cancelled"},
        response={"id": 7, "status": "refunded", "amount": MONEY_EXAMPLE},
    ),
    # --- vendors: money -----------------------------------------------------------------
    "vendor_balance_retrieve": Doc(
        "My balance",
        "Prepaid: the wallet's funds, what open orders reserve and what is available. "
        "Postpaid: what is owed (negative balance), the credit limit and what is available.",
    ),
    "vendor_ledger_list": Doc(
        "My statement",
        "Every movement of the wallet or receivable, newest first, with the balance after "
        "it. `from` and `to` (ISO dates, inclusive) pick a period.",
    ),
    "vendor_wallet_topup_create": Doc(
        "Pay by card",
        "Creates a Stripe PaymentIntent for `amount` (in the vendor's currency); confirm it "
        "with the `client_secret`. Once Stripe confirms it, a prepaid wallet is credited "
        "(`wallet.topup_succeeded`); a postpaid vendor's payment settles its open "
        "invoices, oldest first. `Idempotency-Key` is required.",
        request={"amount": {"amount": "250.00", "currency": "USD"}},
    ),
    "vendor_invoices_list": Doc(
        "List my invoices", "Postpaid vendors' monthly invoices, newest first."
    ),
    "vendor_invoices_lines_retrieve": Doc(
        "An invoice's lines", "The invoice's charges and credits, day by day, and its total."
    ),
    "vendor_invoices_lines.csv_retrieve": Doc(
        "An invoice as CSV", "The same lines as a CSV file (`Accept: text/csv`)."
    ),
    "vendor_invoice_pay": Doc(
        "Pay an invoice by card",
        "A Stripe PaymentIntent for what is still due on the invoice. When Stripe confirms "
        "it, the invoice is settled first, anything above it settles the next open "
        "invoice. A paid invoice is 409 `invalid_state`. `Idempotency-Key` is required.",
        errors=("invalid_state",),
    ),
    # --- vendors: sub-vendors (resellers of a vendor) ----------------------------------------
    "vendor_sub_vendor_list": Doc(
        "List my sub-vendors",
        "Every vendor below yours (your sub-vendors, theirs, ...), breadth first, each with "
        "its `depth` below you, your markup on it, and its balance, reserved funds, credit "
        "limit and what it can spend. A sub-vendor sees only the vendors below itself.",
    ),
    "vendor_sub_vendor_create": Doc(
        "Create a sub-vendor",
        "Opens a reseller account below yours, active at once, billed in your currency. "
        "It buys at your price plus `markup_bps` (never below your price); each of its "
        "orders pays you the difference (`order_margin` on your statement). `prepaid`: "
        "fund its wallet with transfers; `postpaid` (only below a postpaid vendor): a "
        "`credit_limit` you grant within your own. `owner_email` is invited to its portal "
        "as owner (it issues its own API keys there). At most "
        "`SUB_VENDOR_MAX_DEPTH` (3) levels below a vendor the platform signed; a test key "
        "is refused (each sub-vendor's test environment sits below yours). "
        "`Idempotency-Key` is required.",
        errors=("invalid_state", "vendor_not_active", "credit_limit_exceeded"),
        request={
            "name": "Roaming Partners Ltd",
            "billing_mode": "prepaid",
            "markup_bps": 1000,
            "owner_email": "owner@roaming-partners.example",
        },
    ),
    "vendor_sub_vendor_get": Doc(
        "One sub-vendor",
        "A direct sub-vendor of yours with its balance; anyone else's (a sibling's, your "
        "parent's, a grandchild) is 404.",
    ),
    "vendor_sub_vendor_update": Doc(
        "Change my markup on a sub-vendor",
        "Sets `markup_bps`, your markup on your own price for this sub-vendor's orders "
        "from now on (orders placed before keep theirs).",
    ),
    "vendor_sub_vendor_credit_limit_set": Doc(
        "Grant a sub-vendor credit",
        "Sets a postpaid sub-vendor's credit limit. The limits of your postpaid "
        "sub-vendors add up to at most your own credit limit (402 "
        "`credit_limit_exceeded`); a limit below what it owes and has reserved is 409 "
        "`invalid_state`. `Idempotency-Key` is required.",
        errors=("credit_limit_exceeded", "invalid_state"),
        request={"credit_limit": {"amount": "500.00", "currency": "USD"}},
    ),
    "vendor_sub_vendor_transfer_list": Doc(
        "List transfers to a sub-vendor",
        "The transfers between you and this sub-vendor's wallet, newest first.",
    ),
    "vendor_sub_vendor_transfer_create": Doc(
        "Transfer money to a sub-vendor",
        "Moves `amount` from your wallet (or your credit line, when you are postpaid) to "
        "a prepaid sub-vendor's wallet (`direction: fund`), or back from it "
        "(`withdraw`): one double-entry ledger transaction, on both statements as "
        "`transfer`. Over what the paying side can spend it is 402 "
        "`insufficient_funds` (or `credit_limit_exceeded`) with the shortfall, and "
        "nothing moves. `Idempotency-Key` is required: a retry with the same key "
        "returns the first transfer.",
        errors=("insufficient_funds", "credit_limit_exceeded", "invalid_state"),
        request={"amount": {"amount": "40.00", "currency": "USD"}, "direction": "fund"},
    ),
    "vendor_sub_vendor_settings_get": Doc(
        "My sub-vendor settings",
        "Whether your direct sub-vendors' webhook events also come to your endpoints "
        "(`sub_vendor_webhooks`), and how many levels of sub-vendors are allowed.",
    ),
    "vendor_sub_vendor_settings_set": Doc(
        "Change my sub-vendor settings",
        "With `sub_vendor_webhooks: true`, every event of a direct sub-vendor of yours "
        "(orders, eSIMs, wallet) is also sent to your endpoints subscribed to its type, "
        "with `sub_vendor_id` added to its data and its own webhook-id.",
        request={"sub_vendor_webhooks": True},
    ),
    "vendor_transfer_list": Doc(
        "List my transfers",
        "Every transfer you made to or from your sub-vendors' wallets, and those your "
        "parent made to or from yours, newest first.",
    ),
    # --- vendors: webhooks ----------------------------------------------------------------
    "vendor_webhook_endpoints_list": Doc(
        "List webhook endpoints",
        "The vendor's endpoints; secrets are never shown here. An endpoint whose every "
        "delivery attempt has failed for 5 days (or that answered 410 Gone) is disabled by "
        "us: `enabled` is false and `disabled_reason` says why; we email you too.",
    ),
    "vendor_webhook_endpoints_create": Doc(
        "Add a webhook endpoint",
        'Registers an HTTPS URL for the event types in `events` (`["*"]` for all). The '
        "answer carries the signing `secret` (`whsec_...`) once: verify each delivery's "
        "`webhook-signature` with it (Standard Webhooks). Private and loopback addresses "
        "are refused.",
        request={"url": "https://hooks.globetrotter.example/ttelgo", "events": ["*"]},
    ),
    "vendor_webhook_endpoints_partial_update": Doc(
        "Change a webhook endpoint",
        "Changes the URL, the events, the description or `enabled`; the signing secret "
        "stays the same. Enabling an endpoint again clears its record of failures.",
        request={"events": ["order.completed", "esim.usage_threshold"]},
    ),
    "vendor_webhook_endpoints_destroy": Doc(
        "Remove a webhook endpoint",
        "Stops deliveries to it; its delivery log is kept.",
    ),
    "vendor_webhook_endpoint_rotate_secret": Doc(
        "Rotate the signing secret",
        "A new signing secret, shown once. The old one keeps signing beside it until "
        "`previous_secret_expires_at` (a day): each delivery in between carries both "
        "signatures, so a receiver that knows either accepts it.",
    ),
    "vendor_webhook_endpoints_test_create": Doc(
        "Send a test event",
        "Queues a `test` event to the endpoint and returns its delivery.",
    ),
    "vendor_request_logs_list": Doc(
        "Search your request log",
        "Every request made with your keys in the last 30 days, newest first (a test key "
        "reads its test environment's): time, method, path, status, latency, request id, "
        "Idempotency-Key and key prefix. Filter with `method`, `status`, `path` (part of "
        "it), `request_id`, `idempotency_key`, `created_from` and `created_to`.",
        errors=("validation_error",),
    ),
    "vendor_request_logs_retrieve": Doc(
        "One logged request",
        "A logged request with its request and response bodies; secrets and personal data "
        "(emails, people's names, phone numbers, activation codes) are redacted, and long bodies "
        "are cut at 4 KB.",
    ),
    "vendor_webhook_deliveries_list": Doc(
        "List webhook deliveries",
        "Deliveries newest first; filter with `status` and `endpoint_id`.",
    ),
    "vendor_webhook_deliveries_retrieve": Doc(
        "One webhook delivery",
        "A delivery with its payload and every attempt (status, latency, response body).",
    ),
    "vendor_webhook_deliveries_retry_create": Doc(
        "Send a delivery again",
        "Queues the delivery again now, with the same `webhook-id`.",
    ),
    # --- support ------------------------------------------------------------------------
    "tickets_list": Doc(
        "List my support tickets",
        "The customer's tickets, most recently active first, each with its conversation.",
    ),
    "tickets_create": Doc(
        "Ask for help",
        "Opens a ticket with a subject and a first message, optionally about one of the "
        "customer's orders (`order_id`) or eSIMs (`iccid`); another customer's order or "
        "eSIM is 400. Operators answer by email and in the ticket; `status` is `open` "
        "while it waits for them, `answered` when it waits for you.",
        request={"subject": "eSIM not connecting", "body": "No data in Lisbon", "iccid": ICCID},
    ),
    "tickets_retrieve": Doc("One support ticket", "A ticket of the customer's with every message."),
    "tickets_messages_create": Doc(
        "Add to a support ticket",
        "Adds a message to an open or answered ticket (it is `open` again); a closed ticket "
        "is 409 `invalid_state`.",
        errors=("invalid_state",),
        request={"body": "Still no data after restarting the phone."},
    ),
    "vendor_tickets_list": Doc(
        "List my support tickets", "The vendor's tickets, most recently active first."
    ),
    "vendor_tickets_create": Doc(
        "Ask for help",
        "Opens a ticket, optionally about one of the vendor's orders (`order_id`) or eSIMs "
        "(`iccid`). The answer is emailed to the vendor's contact and shown in the ticket.",
        request={"subject": "Order stuck in provisioning", "body": "Order 42", "order_id": 42},
    ),
    "vendor_tickets_retrieve": Doc(
        "One support ticket", "A ticket of the vendor's with every message."
    ),
    "vendor_tickets_messages_create": Doc(
        "Add to a support ticket",
        "Adds a message to an open or answered ticket; a closed one is 409 `invalid_state`.",
        errors=("invalid_state",),
        request={"body": "Here is the customer's reference: booking-1042."},
    ),
    "auto_topups_list": Doc(
        "List my auto top-up rules",
        "The customer's active rules, each with its latest firings (`runs`: `applied`, "
        "`action_required` while the bank waits for the customer, `failed` with the reason, "
        "`limit_reached`).",
    ),
    "auto_topups_create": Doc(
        "Top up an eSIM automatically",
        "When data left falls to `below_percent` % or less, or expiry is `expiry_days` "
        "days away or less, the bundle is bought and applied, once per crossing and at most "
        "`monthly_limit` times a calendar month, charged off-session to the card saved "
        "with `save_card` on an order (409 `invalid_state` without one). A bundle the eSIM "
        "cannot take is 409 `bundle_incompatible`; a second rule for the eSIM is 409 "
        "`conflict`. When the bank asks for authentication, the customer is emailed a link "
        "to confirm the payment. A `bundle_code` or `iccid` that names no bundle or eSIM of "
        "the customer's is 404 `not_found`.",
        errors=(
            "bundle_incompatible",
            "bundle_unavailable",
            "conflict",
            "invalid_state",
            "not_found",
        ),
        request={
            "iccid": "8944500000000000001",
            "bundle_code": "esim_1GB_7D_GB_V2",
            "below_percent": 20,
            "expiry_days": 1,
            "monthly_limit": 3,
        },
    ),
    "auto_topups_retrieve": Doc(
        "One auto top-up rule", "A rule of the customer's, with its firings."
    ),
    "auto_topups_partial_update": Doc(
        "Change an auto top-up rule",
        "Changes the fields sent (a new bundle is checked against the eSIM).",
        errors=("bundle_incompatible", "conflict"),
        request={"below_percent": 10},
    ),
    "auto_topups_destroy": Doc("Stop an auto top-up rule", "The rule stops firing."),
    "vendor_auto_topups_list": Doc(
        "List my auto top-up rules",
        "The vendor's active rules (per eSIM, and the default one with `iccid: null`), "
        "each with its latest firings.",
    ),
    "vendor_auto_topups_create": Doc(
        "Top up eSIMs automatically",
        "With `iccid`, a rule for that eSIM; without, the default for every eSIM of the "
        "vendor that has no rule of its own. When data left falls to `below_percent` % or "
        "less, or expiry is `expiry_days` days away or less, a top-up order is placed on the "
        "wallet or credit line, once per crossing and at most `monthly_limit` times a "
        "calendar month per eSIM; each firing is an `esim.auto_topup` webhook. A bundle the "
        "eSIM cannot take is 409 `bundle_incompatible`; a second rule for the same eSIMs is "
        "409 `conflict`. A `bundle_code` or `iccid` that names no bundle or eSIM of the "
        "vendor's is 404 `not_found`.",
        errors=(
            "bundle_incompatible",
            "bundle_unavailable",
            "conflict",
            "invalid_state",
            "not_found",
        ),
        request={
            "iccid": "8944500000000000001",
            "bundle_code": "esim_1GB_7D_GB_V2",
            "below_percent": 20,
            "expiry_days": 1,
            "monthly_limit": 3,
        },
    ),
    "vendor_auto_topups_retrieve": Doc(
        "One auto top-up rule", "A rule of the vendor's, with its firings."
    ),
    "vendor_auto_topups_partial_update": Doc(
        "Change an auto top-up rule",
        "Changes the fields sent (a new bundle is checked against the eSIM).",
        errors=("bundle_incompatible", "conflict"),
        request={"monthly_limit": 5},
    ),
    "vendor_auto_topups_destroy": Doc("Stop an auto top-up rule", "The rule stops firing."),
    "vendor_esims_resend_create": Doc(
        "Email the eSIM to the end customer again",
        "Queues the delivery email (QR, install page, iOS link) of the eSIM's order again, "
        "to `email` or the `customer_email` given with the order, under the vendor's brand.",
        errors=("invalid_state",),
        request={"email": "traveller@example.com"},
    ),
    "vendor_brand_retrieve": Doc(
        "My brand (white label)",
        "The name, logo, colour and support contacts the vendor's end customers see on "
        "their eSIM's page instead of TTelGo's. Until one is set: the vendor's name and "
        "contact email on the default colour.",
    ),
    "vendor_brand_update": Doc(
        "Set my brand",
        "Creates or replaces the brand (`display_name` is required the first time). "
        "Logo and support addresses must be https; the colour is `#rrggbb`; the text on "
        "it is black or white, whichever reads better.",
        request={
            "display_name": "Globetrotter Mobile",
            "logo_url": "https://globetrotter.example/logo.png",
            "primary_color": "#0f766e",
            "support_email": "help@globetrotter.example",
            "support_url": "https://globetrotter.example/help",
            "sender_name": "Globetrotter Mobile",
        },
    ),
    # --- test mode: the sandbox gateway ------------------------------------------------------
    "sandbox_payment_intent_succeed": Doc(
        "Test mode: confirm a payment",
        "Only where payments run on the sandbox gateway (`make run`, test environments; "
        "404 elsewhere): pays the PaymentIntent named by an order's or a wallet top-up's "
        "`payment_intent_id`, as a customer's card would, and sends the signed "
        "`payment_intent.succeeded` event our Stripe webhook handles, so the order is "
        "provisioned as in production. An unknown intent is 404; one already paid or "
        "cancelled is 409 `invalid_state`. No credentials needed.",
        errors=("invalid_state",),
    ),
    "sandbox_payment_intent_fail": Doc(
        "Test mode: decline a payment",
        "Only where payments run on the sandbox gateway (404 elsewhere): declines the "
        "PaymentIntent as a card would (`card_declined`); the order stays "
        "`awaiting_payment` and can still be paid. An unknown intent is 404; one already "
        "paid or cancelled is 409 `invalid_state`.",
        errors=("invalid_state",),
    ),
    "vendor_brand_partial_update": Doc(
        "Change my brand",
        "Changes only the fields sent; the others stay.",
        request={"primary_color": "#7c3aed"},
    ),
    # --- IoT SIM fleets (docs/IOT.md) ---------------------------------------------------
    "vendor_iot_sims_list": Doc(
        "List the fleet's IoT SIMs",
        "The vendor's IoT SIMs (synced from 1NCE every 15 minutes), in cursor pages by id "
        "with the list's `count`. Filter by `status`, `label` (exact) or `label_contains`, "
        "`iccid`, `quota_level` (ok, low, exhausted, expired), this month's data "
        "(`usage_min_mb`, `usage_max_mb`) and data left (`data_left_min_mb`, "
        "`data_left_max_mb`).",
    ),
    "vendor_iot_sims_retrieve": Doc(
        "Get an IoT SIM",
        "One of the vendor's IoT SIMs: identifiers, status, label, IMEI lock, quotas and "
        "this month's data. Another vendor's SIM is 404.",
    ),
    "vendor_iot_sims_refresh_create": Doc(
        "Refresh an IoT SIM from the provider",
        "Reads the SIM and its data and SMS quotas from 1NCE now (a quota crossing sends "
        "its webhook) and answers the SIM as it is afterwards.",
        errors=("provider_unavailable",),
    ),
    "vendor_iot_sims_label_create": Doc(
        "Set an IoT SIM's label",
        "Sets the label at 1NCE and here; an empty label clears it.",
        errors=("provider_unavailable",),
        request={"label": "meter-42"},
    ),
    "vendor_iot_sims_enable_create": Doc(
        "Enable an IoT SIM",
        "Enables a disabled SIM at 1NCE (`sim.status_changed` webhook). A SIM already "
        "enabled is 409 `invalid_state`.",
        errors=("invalid_state", "provider_unavailable"),
    ),
    "vendor_iot_sims_disable_create": Doc(
        "Disable an IoT SIM",
        "Disables an enabled SIM at 1NCE (`sim.status_changed` webhook). A SIM already "
        "disabled is 409 `invalid_state`.",
        errors=("invalid_state", "provider_unavailable"),
    ),
    "vendor_iot_sims_bulk_create": Doc(
        "Enable or disable many IoT SIMs",
        "One background job for up to 10,000 of the vendor's SIMs (202); follow its "
        "progress (`done` of `total`) at `jobs/{id}`. An ICCID that is not the vendor's "
        "makes the whole request 404 naming it.",
        errors=("not_found",),
        request={"action": "disable", "iccids": ["8988228066602306770"]},
    ),
    "vendor_iot_jobs_retrieve": Doc(
        "Get a bulk job",
        "A bulk enable/disable job: its status (queued, running, completed, failed) and "
        "how many of its SIMs are done.",
    ),
    "vendor_iot_sims_usage_retrieve": Doc(
        "Get an IoT SIM's daily usage",
        "Data (MB) and SMS (mobile-originated and -terminated) per day between `start` and "
        "`end` (default this month, at most 186 days), with the total.",
    ),
    "vendor_iot_usage_retrieve": Doc(
        "Get the fleet's daily usage",
        "The whole fleet's data and SMS per day between `start` and `end` (default this "
        "month, at most 186 days), with the total.",
    ),
    "vendor_iot_sims_topups_create": Doc(
        "Top up an IoT SIM's quota",
        "Buys one quota top-up (data and SMS) for the SIM, priced by our rules and paid "
        "from the wallet or the credit line: reserved first (402 when it does not fit), "
        "then bought at 1NCE and charged (201); refused by 1NCE, nothing is charged. When "
        "1NCE's answer is lost the top-up is answered `reserved` (202) and settled within "
        "minutes by asking 1NCE, never by buying again. `Idempotency-Key` is required.",
        errors=("insufficient_funds", "credit_limit_exceeded", "invalid_state"),
        response={
            "id": 7,
            "iccid": "8988228066602306770",
            "status": "completed",
            "source": "api",
            "amount": MONEY_EXAMPLE,
            "data_mb": "500.00",
            "sms": 250,
            "created_at": "2026-11-21T10:00:00Z",
            "livemode": True,
        },
    ),
    "vendor_iot_sims_auto_topup_create": Doc(
        "Set an IoT SIM's auto top-up",
        "Turns automatic top-ups on or off for one SIM (`null` follows the fleet setting) "
        "and sets its own monthly cap. A top-up is bought when the data quota falls under "
        "the threshold, once per crossing.",
        request={"enabled": True, "monthly_cap": 2},
    ),
    "vendor_iot_auto_topup_retrieve": Doc(
        "Get the fleet's auto top-up",
        "The fleet-wide auto top-up: on or off for SIMs that do not say otherwise, the "
        "fleet's monthly cap (0: none) and the default cap per SIM.",
    ),
    "vendor_iot_auto_topup_create": Doc(
        "Set the fleet's auto top-up",
        "Changes the fleet-wide auto top-up settings; fields left out stay as they are.",
        request={"auto_topup": True, "monthly_cap": 50, "sim_monthly_cap": 1},
    ),
    "vendor_iot_sms_list": Doc(
        "List IoT SMS",
        "SMS sent to the vendor's SIMs (`mt`) and their replies (`mo`), newest first, in "
        "cursor pages; filter by `direction` and `iccid`.",
    ),
    "vendor_iot_sms_create": Doc(
        "Send an SMS to IoT SIMs",
        "Queues one SMS (up to 160 characters) to each of up to 1,000 enabled SIMs; each "
        "goes to 1NCE in the background and moves to pending, then delivered or failed. "
        "Replies arrive as `sim.sms_received` webhooks. An ICCID that is not the vendor's "
        "makes the whole request 404 naming it.",
        errors=("invalid_state", "not_found"),
        request={"iccids": ["8988228066602306770"], "text": "status?"},
    ),
    "vendor_iot_sims_sms_sync_create": Doc(
        "Fetch an IoT SIM's replies",
        "Reads the SIM's SMS from 1NCE now (they are also polled every minute for SIMs "
        "sent one in the last day) and answers its latest 100.",
        errors=("provider_unavailable",),
    ),
    "vendor_iot_events_list": Doc(
        "List IoT SIM events",
        "Events 1NCE logged for the fleet's SIMs (attach, detach, data sessions, quota "
        "warnings, status changes), newest first, in cursor pages; filter by `kind`, "
        "`iccid` and `since`. `upstream_kind` is 1NCE's own name for the event.",
    ),
    "vendor_iot_sims_events_list": Doc(
        "List an IoT SIM's events",
        "One SIM's events, newest first, in cursor pages; filter by `kind` and `since`. "
        "Another vendor's SIM is 404.",
    ),
    "vendor_iot_sims_events_sync_create": Doc(
        "Fetch an IoT SIM's events",
        "Reads the SIM's latest events from 1NCE now (they are also read on a schedule), "
        "each stored once, and answers its 100 newest. A status change among them moves "
        "the SIM and sends `sim.status_changed`, once.",
        errors=("provider_unavailable",),
    ),
}

ERROR_TEXT: dict[str, str] = {
    "validation_error": "A field or query parameter is missing or wrong; `details` names each.",
    "credentials_in_query": "A credential (an API key, a token, a secret) was sent in the "
    "query string; send the key in the `Authorization` header. `details.parameters` names "
    "the parameters.",
    "not_authenticated": "No credentials, or wrong or expired ones.",
    "otp_required": "The account has two-factor authentication: send its code as `otp`.",
    "otp_invalid": "The two-factor code is wrong or was already used.",
    "staff_not_allowed": "Staff accounts get no customer tokens.",
    "insufficient_funds": "The wallet cannot pay for it; see `details`.",
    "credit_limit_exceeded": "The credit line cannot pay for it; see `details`.",
    "permission_denied": "These credentials may not do this.",
    "vendor_not_active": "The vendor account is pending, suspended or closed.",
    "not_found": "No such object for these credentials.",
    "not_acceptable": "The requested format is not offered.",
    "idempotency_key_in_use": "A request with this Idempotency-Key is still running.",
    "invalid_state": "The object's state does not allow it now; `details` says why.",
    "bundle_unavailable": "The bundle is not sold now.",
    "bundle_incompatible": "The eSIM cannot take this bundle.",
    "refund_not_allowed": "The eSIM cannot be refunded; `details.reason` says why.",
    "conflict": "It already exists.",
    "idempotency_key_reused": "This Idempotency-Key was used with another request.",
    "rate_limited": "Too many requests; retry after `Retry-After` seconds.",
    "temporarily_unavailable": "A service this request needs is busy or down; retry after "
    "`Retry-After` seconds (with the same Idempotency-Key, if you sent one).",
}

EXAMPLE_DETAILS: dict[str, dict[str, Any]] = {
    "validation_error": {"quantity": ["Ensure this value is less than or equal to 50."]},
    "insufficient_funds": {
        "available": {"amount": "3.20", "currency": "USD"},
        "required": {"amount": "4.50", "currency": "USD"},
        "shortfall": {"amount": "1.30", "currency": "USD"},
    },
    "credit_limit_exceeded": {
        "available": {"amount": "3.20", "currency": "USD"},
        "required": {"amount": "4.50", "currency": "USD"},
        "shortfall": {"amount": "1.30", "currency": "USD"},
    },
    "rate_limited": {"retry_after": 12},
    "refund_not_allowed": {"reason": "installed"},
    "idempotency_key_reused": {"idempotency_key": "3f1c9a52-order-1042"},
    "idempotency_key_in_use": {"idempotency_key": "3f1c9a52-order-1042"},
}


def _envelope(description: str, codes: list[str], details: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details", "request_id"],
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                    "details": details,
                    "request_id": {"type": "string"},
                },
            }
        },
    }


def _codes(status: int) -> list[str]:
    return sorted(c for c, s in STATUS_BY_CODE.items() if s == status)


_FREE_DETAILS: dict[str, Any] = {"type": "object", "additionalProperties": True}

ENVELOPE_SCHEMA = _envelope(
    "Every error, whatever the status: one machine-readable `code`, a message for people, "
    "`details` (field errors, amounts) and the request id to quote to support.",
    sorted(STATUS_BY_CODE),
    _FREE_DETAILS,
)

# `details` typed per status where its content is fixed (the rest: `ErrorEnvelope`).
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ValidationErrorDetails": {
        "type": "object",
        "description": "Each field, query parameter or header in error (`non_field_errors` "
        "for the request as a whole) with its messages; a nested object or list names its "
        "own fields or positions the same way. `credentials_in_query` names the query "
        "`parameters`.",
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "items": {}},
                {"type": "object", "additionalProperties": True},
                {"type": "string"},
            ]
        },
    },
    "FundsShortfallDetails": {
        "type": "object",
        "description": "How far off the wallet or credit line is.",
        "required": ["available", "required", "shortfall"],
        "properties": {
            "available": {"$ref": "#/components/schemas/Money"},
            "required": {"$ref": "#/components/schemas/Money"},
            "shortfall": {"$ref": "#/components/schemas/Money"},
        },
    },
    "ConflictDetails": {
        "type": "object",
        "description": "`reason` for `refund_not_allowed` (`installed`, `outside_window`, "
        "`already_requested`, `revoked`, `order_not_refundable`); the `idempotency_key` for `idempotency_key_in_use`; other "
        "facts of the refusal.",
        "properties": {
            "reason": {"type": "string"},
            "idempotency_key": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "IdempotencyKeyReusedDetails": {
        "type": "object",
        "description": "The key that was used with another request.",
        "properties": {"idempotency_key": {"type": "string"}},
        "additionalProperties": True,
    },
    "RateLimitedDetails": {
        "type": "object",
        "description": "`retry_after`: seconds to wait (as the `Retry-After` header).",
        "properties": {"retry_after": {"type": "integer", "minimum": 1}},
        "additionalProperties": True,
    },
}

# The envelope component each error status is answered with.
ENVELOPE_BY_STATUS: dict[str, tuple[str, str, str]] = {
    # status: (component, description, details component)
    "400": ("ValidationErrorEnvelope", "A 400: what is wrong, named.", "ValidationErrorDetails"),
    "402": ("PaymentErrorEnvelope", "A 402: the funds are short.", "FundsShortfallDetails"),
    "409": ("ConflictErrorEnvelope", "A 409: refused in this state.", "ConflictDetails"),
    "422": (
        "IdempotencyErrorEnvelope",
        "A 422: the Idempotency-Key belongs to another request.",
        "IdempotencyKeyReusedDetails",
    ),
    "429": ("RateLimitedErrorEnvelope", "A 429: too many requests.", "RateLimitedDetails"),
}


def _error_components() -> dict[str, Any]:
    components: dict[str, Any] = {"ErrorEnvelope": ENVELOPE_SCHEMA, **ERROR_SCHEMAS}
    for status, (name, description, details) in ENVELOPE_BY_STATUS.items():
        components[name] = _envelope(
            description, _codes(int(status)), {"$ref": f"#/components/schemas/{details}"}
        )
    return components


def endpoints_public(endpoints: list[Any], **_kwargs: Any) -> list[Any]:
    """Preprocessing hook: inbound webhooks are not client API; of the sandbox, only the
    payment confirmation (test mode) is."""
    return [e for e in endpoints if e[0] in SANDBOX_PUBLIC or not e[0].startswith(PRIVATE_PREFIXES)]


def _errors_for(path: str, method: str, operation: dict[str, Any], doc: Doc) -> list[str]:
    codes: list[str] = []
    vendor = path.startswith("/api/v1/vendor/")
    public = path.startswith(
        ("/api/v1/catalogue/", "/api/v1/auth/", "/api/v1/vendors/", "/api/v1/sandbox/")
    )
    if operation.get("requestBody") or operation.get("parameters"):
        codes.append("validation_error")
    if not public:
        codes.append("not_authenticated")
    if vendor:
        codes += ["credentials_in_query", "vendor_not_active"]
    if "{" in path:
        codes.append("not_found")
    if method == "post" and operation["operationId"] not in IDEMPOTENCY_NONE:
        codes += ["idempotency_key_in_use", "idempotency_key_reused"]
    if vendor or path.startswith("/api/v1/auth/") or path.startswith("/api/v1/vendors/"):
        codes.append("rate_limited")
    codes += doc.errors
    codes.append("temporarily_unavailable")
    return list(dict.fromkeys(codes))


REQUEST_ID_HEADER = {
    "schema": {"type": "string"},
    "required": True,
    "description": "This request's id (yours echoed when you sent a valid `X-Request-ID`); "
    "quote it to support.",
}
RETRY_AFTER_HEADER = {
    "schema": {"type": "integer", "minimum": 1},
    "required": False,
    "description": "Seconds to wait before retrying (429, 503, and a 409 "
    "`idempotency_key_in_use`).",
}
REPLAYED_HEADER = {
    "schema": {"type": "string", "enum": ["true"]},
    "required": False,
    "description": "Present on a replay: this is the stored answer to an earlier request "
    "with the same Idempotency-Key and body.",
}


def _error_response(status: str, codes: list[str]) -> dict[str, Any]:
    examples = {
        code: {
            "summary": ERROR_TEXT.get(code, code),
            "value": {
                "error": {
                    "code": code,
                    "message": ERROR_TEXT.get(code, code),
                    "details": EXAMPLE_DETAILS.get(code, {}),
                    "request_id": "4f9c2a7d1e6b4c3a9b8d7e6f5a4b3c2d",
                }
            },
        }
        for code in codes
    }
    component = ENVELOPE_BY_STATUS.get(status, ("ErrorEnvelope",))[0]
    response: dict[str, Any] = {
        "description": "; ".join(f"`{c}`: {ERROR_TEXT.get(c, c)}" for c in codes),
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{component}"},
                "examples": examples,
            }
        },
        "headers": {"X-Request-ID": REQUEST_ID_HEADER},
    }
    if status in ("409", "429", "503"):
        response["headers"]["Retry-After"] = RETRY_AFTER_HEADER
    return response


def _idempotency_header(operation: dict[str, Any], required: bool) -> None:
    params = operation.setdefault("parameters", [])
    params[:] = [p for p in params if p.get("name") != "Idempotency-Key"]
    params.append(
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": required,
            # Printable ASCII is what every client can send in a header; the server takes
            # any 1-255 printable characters.
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
            "description": "Your unique key for this request (a UUID): a retry with the same "
            "key and body returns the first answer (`Idempotent-Replayed: true`) instead of "
            "doing it again. Kept 24 hours.",
        }
    )


def _success_headers(responses: dict[str, Any], replayable: bool) -> None:
    for status, response in responses.items():
        if status.startswith(("2", "3")):
            headers = response.setdefault("headers", {})
            headers["X-Request-ID"] = REQUEST_ID_HEADER
            if replayable:
                headers["Idempotent-Replayed"] = REPLAYED_HEADER


def schema_document(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the overview, summaries, descriptions, errors, headers,
    examples, and the webhook payloads."""
    result.setdefault("info", {})["description"] = OVERVIEW
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_error_components())
    schemas.update(webhook_components())
    result["x-webhooks"] = {
        event: {"$ref": f"#/components/schemas/{webhook_component_name(event)}"}
        for event in EVENT_TYPES
    }
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            doc = OPERATIONS.get(operation["operationId"])
            if doc is None:
                continue  # tests/core/test_api_docs.py names it
            operation["summary"] = doc.summary
            operation["description"] = doc.description
            if path in SANDBOX_PUBLIC:
                operation["tags"] = ["test mode"]
            # No credentials: `security: []`, the way generators read "public" (they take
            # `[{}]`, an empty requirement, for "needs a client with credentials").
            security = operation.get("security")
            if not security or {} in security:
                operation["security"] = []
            idempotent = method == "post" and operation["operationId"] not in IDEMPOTENCY_NONE
            if idempotent:
                _idempotency_header(operation, operation["operationId"] in IDEMPOTENCY_REQUIRED)
            by_status: dict[str, list[str]] = {}
            for code in _errors_for(path, method, operation, doc):
                by_status.setdefault(str(STATUS_BY_CODE[code]), []).append(code)
            responses = operation.setdefault("responses", {})
            for status, codes in sorted(by_status.items()):
                responses[status] = _error_response(status, codes)
            _success_headers(responses, idempotent)
            if doc.request is not None:
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    media["example"] = doc.request
            if doc.response is not None:
                for status in ("201", "200"):
                    if status in responses:
                        for media in responses[status].get("content", {}).values():
                            media["example"] = doc.response
                        break
    return result
