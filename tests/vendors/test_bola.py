"""Generated BOLA test: every vendor route in the URL conf, vendor B's key on vendor A's
objects -> 404.

Routes are discovered from the URL conf, so routes added later are covered without
editing this file. Path parameters are filled from a pool of vendor A's objects keyed by
parameter name (`order_id`, `iccid`, `endpoint_id` …). A new parameter name needs a maker
in MAKERS below (the test says so) — a new route is never silently skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import responses
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from tests.vendors.factories import vendor_client
from ttelgo.money import Money
from vendors.models import Vendor
from vendors.services import vendor_credit_limit_change
from webhooks.services import endpoint_create, endpoint_test

PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Route:
    template: str  # e.g. /api/v1/vendor/orders/<int:order_id>
    name: str
    methods: list[str] = field(default_factory=list)

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.template)

    @property
    def path(self) -> str:
        return self.template

    @property
    def section(self) -> str:
        """The first segment after /api/v1/vendor/ (`iot`, `orders`, ...): a maker may give
        a value for one section only (`iot:iccid` is an IoT SIM, `iccid` an eSIM)."""
        return self.template.removeprefix("/api/v1/vendor/").split("/")[0]

    def value(self, values: dict[str, Any], name: str) -> Any:
        return values.get(f"{self.section}:{name}", values.get(name))

    def url(self, values: dict[str, Any]) -> str:
        return PARAM.sub(lambda m: str(self.value(values, m.group(1))), self.template)


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def vendor_routes() -> list[Route]:
    """Every `/api/v1/vendor/...` route with the HTTP methods its view implements."""
    routes = []
    for template, pattern in _walk(get_resolver().url_patterns):
        if not template.startswith("api/v1/vendor/"):
            continue
        view = getattr(pattern.callback, "view_class", None)
        methods = [m.upper() for m in METHODS if view is not None and hasattr(view, m)]
        routes.append(Route(template="/" + template, name=pattern.name or "", methods=methods))
    return routes


# --- vendor A's objects ------------------------------------------------------------------
MARKER_URL = "https://93.184.215.77/bola-marker"
MARKER_REFERENCE = "bola-marker-vendor-a"


def _make_webhooks(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    endpoint, _ = endpoint_create(vendor=vendor, url=MARKER_URL, events=["order.completed"])
    delivery = endpoint_test(endpoint=endpoint)
    return {"endpoint_id": endpoint.pk, "delivery_id": delivery.pk}


def _make_invoice(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    from billing.accounts import vendor_ledger_account
    from billing.models import Invoice
    from ledger.models import Purpose

    account = vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE, currency="USD")
    today = timezone.now().date()
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=account,
        period_start=today.replace(day=1),
        period_end=today,
        currency="USD",
        total=1234,
        opening_balance=0,
        closing_balance=1234,
        due_date=today,
    )
    return {"invoice_id": invoice.pk}


def _make_order(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    """An order placed through the public API, so it is exactly what a vendor would own."""
    from tests.orders.factories import BUNDLE_CODE, bundles_create, fund

    bundles_create()
    if vendor.billing_mode == Vendor.BillingMode.POSTPAID:
        vendor_credit_limit_change(
            vendor=vendor, limit=Money(10_000, "USD"), actor=None, reason="test"
        )
    else:
        fund(vendor, 10_000)
    with capture(execute=True):  # provisioning runs on commit and delivers the eSIM
        response = client.post(
            "/api/v1/vendor/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1, "customer_reference": MARKER_REFERENCE},
            format="json",
            HTTP_IDEMPOTENCY_KEY="bola-order",
        )
    assert response.status_code == 201, response.content
    order = client.get(f"/api/v1/vendor/orders/{response.json()['id']}").json()
    values: dict[str, Any] = {"order_id": order["id"]}
    if order.get("esims"):
        values["iccid"] = order["esims"][0]["iccid"]
    return values


def _make_ticket(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/vendor/tickets",
        {"subject": "BOLA check", "body": "vendor A's ticket"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bola-ticket",
    )
    assert response.status_code == 201, response.content
    return {"ticket_id": response.json()["id"]}


def _make_auto_topup(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/vendor/auto-topups",
        {"bundle_code": "esim_2GB_7D_GB_V2", "below_percent": 20},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bola-auto-topup",
    )
    assert response.status_code == 201, response.content
    return {"rule_id": response.json()["id"]}


# Fields any vendor write might need (extra ones are ignored by the serializers).
VALID_BODY = {
    "amount": {"amount": "1.00", "currency": "USD"},
    "markup_bps": 100,
    "bundle_code": "esim_2GB_7D_GB_V2",
    "quantity": 1,
    "url": "https://93.184.215.14/hooks",
    "events": ["order.completed"],
}


# Each maker returns {path parameter name: vendor A's value}.
def _make_request_log(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    """The request log's line of a request vendor A made with its key."""
    from vendors.models import ApiRequestLog

    assert client.get("/api/v1/vendor/balance").status_code == 200
    return {"log_id": ApiRequestLog.objects.filter(vendor=vendor).latest("id").pk}


def _make_iot(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    """An IoT SIM of vendor A's fleet, an event of it and a bulk job over it (the job
    queued only: its provider calls are not what this test is about)."""
    from iot.models import IotBulkJob, IotSim, IotSimEvent

    sim = IotSim.objects.create(
        vendor=vendor,
        livemode=vendor.livemode,
        provider="1nce",
        iccid=f"8988{vendor.pk:04d}{0:011d}",
        label="bola-marker-vendor-a",
    )
    IotSimEvent.objects.create(
        sim=sim,
        vendor=vendor,
        livemode=vendor.livemode,
        provider_id="bola-event",
        kind="attach",
        at=timezone.now(),
    )
    job = IotBulkJob.objects.create(vendor=vendor, livemode=vendor.livemode, action="disable")
    return {"iot:iccid": sim.iccid, "job_id": job.pk}


def _make_sub_vendor(vendor: Vendor, client: APIClient, capture: Any) -> dict[str, Any]:
    """A prepaid sub-vendor of vendor A's, funded by one transfer (A is postpaid: the
    transfer draws on its credit line, set by `_make_order`)."""
    response = client.post(
        "/api/v1/vendor/sub-vendors",
        {"name": "bola-marker-vendor-a sub", "markup_bps": 500},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bola-sub-vendor",
    )
    assert response.status_code == 201, response.content
    sub_id = response.json()["id"]
    transfer = client.post(
        f"/api/v1/vendor/sub-vendors/{sub_id}/transfers",
        {"amount": {"amount": "1.00", "currency": "USD"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bola-transfer",
    )
    assert transfer.status_code == 201, transfer.content
    return {"sub_vendor_id": sub_id}


MAKERS: list[Callable[[Vendor, APIClient, Any], dict[str, Any]]] = [
    _make_webhooks,
    _make_invoice,
    _make_order,
    _make_ticket,
    _make_auto_topup,
    _make_request_log,
    _make_iot,
    _make_sub_vendor,
]


def _vendor_a_objects(client_a: APIClient, capture: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {}
    # On-commit work runs (provisioning delivers the eSIMs); outbound HTTP is intercepted.
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        for make in MAKERS:
            with capture(execute=True):
                pool.update(make(client_a.vendor, client_a, capture))  # type: ignore[attr-defined]
    return pool


def test_routes_are_discovered_from_the_url_conf():
    names = {r.name for r in vendor_routes()}
    assert {"vendor-webhook-endpoint", "vendor-webhook-delivery-retry", "vendor-balance"} <= names


def _send_valid(client: APIClient, method: str, url: str, *, key: str) -> Any:
    """VALID_BODY without the fields this route does not take (unknown fields are 400s)."""
    body = dict(VALID_BODY)
    send = getattr(client, method.lower())
    response = send(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    details = response.json()["error"]["details"] if response.status_code == 400 else {}
    unknown = [name for name, errors in details.items() if errors == ["Unknown field."]]
    if unknown:
        for name in unknown:
            body.pop(name, None)
        response = send(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key + "-again")
    return response


def test_vendor_b_gets_404_on_every_vendor_route_with_vendor_a_objects(
    db, django_capture_on_commit_callbacks
):
    client_a = vendor_client(billing_mode="postpaid")
    client_b = vendor_client()
    pool = _vendor_a_objects(client_a, django_capture_on_commit_callbacks)

    failures: list[str] = []
    checked = 0
    for route in vendor_routes():
        if not route.params:
            continue
        missing = [p for p in route.params if route.value(pool, p) is None]
        if missing:
            failures.append(
                f"{route.template}: no vendor-A object for {missing}; add a maker to MAKERS"
            )
            continue
        url = route.url(pool)
        if "GET" in route.methods:
            own = client_a.get(url)
            if own.status_code == 404:
                failures.append(f"GET {url}: vendor A itself gets 404 (bad fixture)")
        for method in route.methods:
            # A valid body, so that only ownership can explain a refusal.
            response = _send_valid(client_b, method, url, key=f"bola-{checked}")
            checked += 1
            body = response.content.decode()
            if response.status_code != 404:
                failures.append(f"{method} {url}: {response.status_code} {body[:200]}")
            elif json.loads(body)["error"]["code"] != "not_found":
                failures.append(f"{method} {url}: 404 without the not_found envelope")
    assert not failures, "\n".join(failures)
    assert checked >= 6


def test_vendor_b_lists_never_show_vendor_a_objects(db, django_capture_on_commit_callbacks):
    client_a = vendor_client(billing_mode="postpaid")
    client_b = vendor_client()
    pool = _vendor_a_objects(client_a, django_capture_on_commit_callbacks)
    markers = [
        MARKER_URL,
        MARKER_REFERENCE,
        *(str(v) for k, v in pool.items() if k.split(":")[-1] == "iccid"),
    ]

    seen_in_a = set()
    for route in vendor_routes():
        if route.params or "GET" not in route.methods:
            continue
        body_a = client_a.get(route.path).content.decode()
        seen_in_a |= {m for m in markers if m in body_a}
        response = client_b.get(route.path)
        assert response.status_code == 200, (route.path, response.content[:200])
        leaked = [m for m in markers if m in response.content.decode()]
        assert not leaked, (route.path, leaked)
    # The markers are really visible to their owner, so their absence for B means something.
    assert {MARKER_URL, MARKER_REFERENCE} <= seen_in_a


@pytest.mark.parametrize("body_field", ["vendor", "vendor_id", "status", "credit_limit", "balance"])
def test_mass_assignment_on_vendor_writes_is_refused(db, body_field):
    """Fields a vendor must never set are refused (400 naming them) and change nothing."""
    from tests.webhooks.factories import PUBLIC_URL
    from webhooks.models import WebhookEndpoint

    client_a = vendor_client()
    victim = vendor_client().vendor
    hostile = {body_field: victim.pk if "vendor" in body_field else "closed"}
    if body_field in ("credit_limit", "balance"):
        hostile = {body_field: {"amount": "99999.00", "currency": "USD"}}
    response = client_a.post(
        "/api/v1/vendor/webhook-endpoints",
        {"url": PUBLIC_URL, "events": ["order.completed"], **hostile},
        format="json",
    )
    assert response.status_code == 400
    assert body_field in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()
    client_a.vendor.refresh_from_db()
    assert client_a.vendor.status == "active" and client_a.vendor.credit_limit == 0
