"""A Python client generated from our schema by openapi-python-client, as an integrator
would make it: it generates with zero warnings, and it does a vendor's and a customer's
whole path against a live server with no raw HTTP, every answer parsed into its typed
model (errors into the typed envelopes). Generated once per session."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from sandbox.provider import sandbox_faults_reset
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from vendors.models import Vendor, VendorAPIKey

# The one mapping a generator needs: the QR code's images are binary (the schema's
# overview says so). Everything else is generated from the schema as it is.
CONFIG = """\
post_hooks: []
package_name_override: ttelgo_client
content_type_overrides:
  image/png: application/octet-stream
"""


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("client")
    with django_db_blocker.unblock():
        call_command("spectacular", "--format", "openapi-json", "--file", str(out / "schema.json"))
    (out / "config.yaml").write_text(CONFIG)
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            str(out / "ttelgo_client"),
            "--config",
            "config.yaml",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=180,
    )
    sys.path.insert(0, str(out))
    try:
        yield run
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith("ttelgo_client")]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"ttelgo_client.{name}")


def _key() -> str:
    return str(uuid.uuid4())


def test_the_client_generates_with_zero_warnings(generated):
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "error" not in output.lower(), output


@pytest.mark.django_db(transaction=True)
def test_a_vendor_does_its_whole_path_with_the_generated_client(generated, live_server):
    assert generated.returncode == 0
    models = _module("models")
    client_module = _module("client")
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 10_000)
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="generated")
    api = client_module.AuthenticatedClient(base_url=live_server.url, token=key, prefix="Api-Key")

    catalogue = _module("api.vendor.vendor_catalogue_list").sync(client=api)
    assert isinstance(catalogue, models.PaginatedVendorCatalogueListOutputList)
    assert BUNDLE_CODE in [b.code for b in catalogue.results]

    create = _module("api.vendor.vendor_orders_create")
    body = models.VendorOrderListCreateInputRequest(
        bundle_code=BUNDLE_CODE, quantity=1, customer_reference="booking-1"
    )
    first_key = _key()
    placed = create.sync_detailed(client=api, body=body, idempotency_key=first_key)
    assert placed.status_code == 201, placed.content
    order = placed.parsed
    assert isinstance(order, models.VendorOrderListCreateOutput)
    replay = create.sync_detailed(client=api, body=body, idempotency_key=first_key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.parsed.id == order.id

    read = _module("api.vendor.vendor_orders_retrieve").sync(client=api, order_id=order.id)
    assert isinstance(read, models.VendorOrderDetailOutput)
    assert read.status == "completed" and len(read.esims) == 1

    esims = _module("api.vendor.vendor_esims_list").sync(client=api)
    assert [e.iccid for e in esims.results] == [read.esims[0].iccid]

    ledger_list = _module("api.vendor.vendor_ledger_list")
    first = ledger_list.sync(client=api, page_size=1)
    assert len(first.results) == 1 and first.next_ is not None
    cursor = parse_qs(urlsplit(first.next_).query)["cursor"][0]
    second = ledger_list.sync(client=api, page_size=1, cursor=cursor)
    assert len(second.results) == 1 and second.results[0].id != first.results[0].id
    tampered = ledger_list.sync_detailed(client=api, cursor="cD1hYmM=")  # "p=abc"
    assert tampered.status_code == 400
    assert isinstance(tampered.parsed, models.ValidationErrorEnvelope)
    assert "cursor" in tampered.parsed.error.details.additional_properties

    # A typed validation error: the field named in `details`.
    bad = create.sync_detailed(
        client=api,
        body=models.VendorOrderListCreateInputRequest(bundle_code=BUNDLE_CODE, quantity=0),
        idempotency_key=_key(),
    )
    assert bad.status_code == 400
    assert isinstance(bad.parsed, models.ValidationErrorEnvelope)
    assert bad.parsed.error.code == "validation_error"
    assert "quantity" in bad.parsed.error.details.additional_properties

    # Webhook endpoint: created with the schema's defaults (a blank description), rotated.
    endpoint = _module("api.vendor_webhooks.vendor_webhook_endpoints_create").sync(
        client=api,
        body=models.VendorWebhookEndpointListInputRequest(
            url="https://93.184.215.14/hooks", events=[models.EventsEnum("*")]
        ),
        idempotency_key=_key(),
    )
    assert isinstance(endpoint, models.VendorWebhookEndpointListCreated), endpoint
    assert endpoint.secret.startswith("whsec_")
    rotated = _module("api.vendor_webhooks.vendor_webhook_endpoint_rotate_secret").sync(
        client=api, endpoint_id=endpoint.id, idempotency_key=_key()
    )
    assert isinstance(rotated, models.VendorWebhookEndpointRotateSecretOutput), rotated
    assert rotated.secret != endpoint.secret


@pytest.mark.django_db(transaction=True)
def test_a_vendor_short_of_funds_reads_a_typed_402(generated, live_server):
    models = _module("models")
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 100)  # 1.00: not enough for a 4.50 bundle
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="generated")
    api = _module("client").AuthenticatedClient(
        base_url=live_server.url, token=key, prefix="Api-Key"
    )
    answer = _module("api.vendor.vendor_orders_create").sync_detailed(
        client=api,
        body=models.VendorOrderListCreateInputRequest(bundle_code=BUNDLE_CODE, quantity=1),
        idempotency_key=_key(),
    )
    assert answer.status_code == 402
    error = answer.parsed
    assert isinstance(error, models.PaymentErrorEnvelope)
    assert error.error.code == "insufficient_funds"
    assert error.error.details.shortfall.amount == "3.50"
    assert error.error.details.shortfall.currency == "USD"


@pytest.mark.django_db(transaction=True)
def test_a_customer_does_its_whole_path_with_the_generated_client(generated, live_server):
    assert generated.returncode == 0
    models = _module("models")
    client_module = _module("client")
    sandbox_faults_reset()
    bundles_create()
    public = client_module.Client(base_url=live_server.url)
    email, password = "traveller@example.com", "a-long-passphrase-42"

    account = _module("api.auth.auth_register_create").sync(
        client=public, body=models.RegisterInputRequest(email=email, password=password)
    )
    assert isinstance(account, models.RegisterOutput) and account.email == email
    tokens = _module("api.auth.auth_token_create").sync(
        client=public, body=models.FactorTokenRequest(email=email, password=password)
    )
    assert isinstance(tokens, models.TokenPair)
    api = client_module.AuthenticatedClient(base_url=live_server.url, token=tokens.access)

    bundles = _module("api.catalogue.catalogue_bundles_list").sync(client=public)
    assert BUNDLE_CODE in [b.code for b in bundles.results]

    order = _module("api.orders.orders_create").sync(
        client=api,
        body=models.OrderListCreateInputRequest(bundle_code=BUNDLE_CODE, quantity=1),
        idempotency_key=_key(),
    )
    assert isinstance(order, models.OrderListCreateOutput), order
    assert order.status == "awaiting_payment"

    paid = _module("api.test_mode.sandbox_payment_intent_succeed").sync(
        client=public, payment_intent_id=order.payment.payment_intent_id
    )
    assert isinstance(paid, models.SandboxPaymentIntentOutput), paid

    done = _module("api.orders.orders_retrieve").sync(client=api, order_id=order.id)
    assert isinstance(done, models.OrderDetailOutput)
    assert done.status == "completed" and len(done.esims) == 1
    iccid = done.esims[0].iccid

    esim = _module("api.esims.esims_retrieve").sync(client=api, iccid=iccid)
    assert esim.lpa.startswith("LPA:1$")
    mine = _module("api.esims.esims_list").sync(client=api)
    assert [e.iccid for e in mine.results] == [iccid]

    qr = _module("api.esims.esims_qr_retrieve").sync_detailed(client=api, iccid=iccid)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.parsed.payload.read().startswith(b"\x89PNG")
    svg = _module("api.esims.esims_qr_retrieve").sync_detailed(
        client=api, iccid=iccid, format_=models.EsimsQrRetrieveFormat.SVG
    )
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.parsed.payload.read()

    missing = _module("api.orders.orders_retrieve").sync_detailed(client=api, order_id=999_999)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorEnvelope)
    assert missing.parsed.error.code == "not_found"
