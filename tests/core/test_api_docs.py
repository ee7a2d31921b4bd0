"""The client schema documents the API for integrators: every operation has its own summary
and description (no base-class docstrings or internals), every error it can answer with
the envelope as a component, the Idempotency-Key header where it is taken, examples that
work against the running app, and nothing of the sandbox or inbound webhooks. A client
generated from it (openapi-python-client) reads a 402 as a typed error."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from config.api_docs import IDEMPOTENCY_REQUIRED, OPERATIONS
from fulfilment.models import Esim
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund
from vendors.models import Vendor, VendorAPIKey

pytestmark = pytest.mark.django_db

INTERNAL_WORDS = ("Base for every", "cache hit", "bench", "DRF", "Takes a set of user")


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(out))
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if isinstance(op, dict) and "operationId" in op
    ]


def test_every_operation_is_written_for_integrators(schema):
    ops = _operations(schema)
    assert len(ops) >= 40
    for path, method, op in ops:
        where = f"{method.upper()} {path}"
        assert op["operationId"] in OPERATIONS, where
        assert op.get("summary"), where
        assert len(op.get("description", "")) >= 20, where
        assert not any(w in op["description"] for w in INTERNAL_WORDS), where


def test_sandbox_and_inbound_webhooks_are_not_in_the_client_schema(schema):
    assert not [p for p in schema["paths"] if "/sandbox/" in p or "/webhooks/" in p]


def test_errors_are_documented_with_the_envelope(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert "insufficient_funds" in envelope["properties"]["error"]["properties"]["code"]["enum"]
    for path, _method, op in _operations(schema):
        responses = op["responses"]
        if path.startswith("/api/v1/vendor/"):
            assert {"401", "403"} <= set(responses), path
        if "{" in path:
            assert "404" in responses, path
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), (path, status)
    order = schema["paths"]["/api/v1/vendor/orders"]["post"]
    examples = order["responses"]["402"]["content"]["application/json"]["examples"]
    assert set(examples) == {"insufficient_funds", "credit_limit_exceeded"}
    assert "shortfall" in examples["insufficient_funds"]["value"]["error"]["details"]
    assert "Retry-After" in order["responses"]["429"]["headers"]


def test_the_idempotency_key_is_required_where_it_is(schema):
    for _path, method, op in _operations(schema):
        if method != "post":
            continue
        header = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if op["operationId"] in ("auth_token_create", "auth_token_refresh_create"):
            assert header == []
            continue
        assert len(header) == 1, op["operationId"]
        assert header[0]["required"] == (op["operationId"] in IDEMPOTENCY_REQUIRED)


def _example(schema: dict[str, Any], path: str) -> dict[str, Any]:
    content = schema["paths"][path]["post"]["requestBody"]["content"]
    example: dict[str, Any] = content["application/json"]["example"]
    return example


def test_the_order_and_topup_examples_work_against_the_app(
    schema, django_capture_on_commit_callbacks
):
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 10_000)
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="docs")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    with django_capture_on_commit_callbacks(execute=True):
        order = client.post(
            "/api/v1/vendor/orders",
            _example(schema, "/api/v1/vendor/orders"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="docs-1",
        )
    assert order.status_code == 201, order.content
    assert order.json()["status"] == "provisioning"
    done = client.get(f"/api/v1/vendor/orders/{order.json()['id']}").json()
    assert done["status"] == "completed" and len(done["esims"]) == 1
    iccid = Esim.objects.get(order_id=order.json()["id"]).iccid
    with django_capture_on_commit_callbacks(execute=True):
        topup = client.post(
            f"/api/v1/vendor/esims/{iccid}/topups",
            _example(schema, "/api/v1/vendor/esims/{iccid}/topups"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="docs-2",
        )
    assert topup.status_code == 201, topup.content
    customer = customer_client(UserFactory())
    b2c = customer.post(
        "/api/v1/orders",
        _example(schema, "/api/v1/orders"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="docs-3",
    )
    assert b2c.status_code == 201, b2c.content


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_reads_a_402_as_a_typed_error(schema, live_server, tmp_path):
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text("post_hooks: []\npackage_name_override: ttelgo_client\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "ttelgo_client"),
            "--config",
            "config.yaml",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("ttelgo_client.client")
        create = importlib.import_module("ttelgo_client.api.vendor.vendor_orders_create")
        models = importlib.import_module("ttelgo_client.models")

        bundles_create()
        vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
        fund(vendor, 100)  # 1.00: not enough for a 4.50 bundle
        _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="generated")
        api = client_module.AuthenticatedClient(
            base_url=live_server.url, token=key, prefix="Api-Key"
        )
        body = models.VendorOrderListCreateInputRequest(bundle_code="esim_1GB_7D_GB_V2", quantity=1)
        answer = create.sync_detailed(client=api, body=body, idempotency_key="gen-1")
        assert answer.status_code == 402
        error = answer.parsed
        assert isinstance(error, models.ErrorEnvelope)
        assert error.error.code == "insufficient_funds"
        assert error.error.details["shortfall"] == {"amount": "3.50", "currency": "USD"}
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("ttelgo_client")]:
            del sys.modules[name]
