"""The client schema documents the API for integrators: every operation has its own summary
and description (no base-class docstrings or internals), every error it can answer with
the envelope as a component, the Idempotency-Key header where it is taken, examples that
work against the running app, and nothing of the inbound webhooks or the sandbox but its
payment confirmation (test mode). It opens with an overview, types error details per
status, declares response headers, marks public operations `security: []` and has a
payload schema per webhook event type. The generated client's and Schemathesis' runs are
in test_generated_client.py and test_schemathesis.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command

from config.api_docs import IDEMPOTENCY_REQUIRED, OPERATIONS
from fulfilment.models import Esim
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund
from ttelgo.errors import STATUS_BY_CODE
from ttelgo.outbox import EVENT_TYPES
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


def test_of_the_sandbox_only_the_payment_confirmation_is_in_the_client_schema(schema):
    assert not [p for p in schema["paths"] if "/webhooks/" in p]
    sandbox = sorted(p for p in schema["paths"] if "/sandbox/" in p)
    assert sandbox == [
        "/api/v1/sandbox/payment_intents/{payment_intent_id}/fail",
        "/api/v1/sandbox/payment_intents/{payment_intent_id}/succeed",
    ]
    for path in sandbox:
        op = schema["paths"][path]["post"]
        assert op["tags"] == ["test mode"] and op["security"] == []
        assert "not_authenticated" not in json.dumps(op["responses"])


def test_public_operations_need_no_credentials_the_way_generators_read_it(schema):
    public = {
        "auth_register_create",
        "auth_token_create",
        "auth_token_refresh_create",
        "catalogue_bundles_list",
        "catalogue_bundles_retrieve",
        "catalogue_countries_list",
        "vendors_signup_create",
        "sandbox_payment_intent_succeed",
        "sandbox_payment_intent_fail",
    }
    for _path, _method, op in _operations(schema):
        if op["operationId"] in public:
            assert op["security"] == [], op["operationId"]
        else:
            assert op["security"] and {} not in op["security"], op["operationId"]


def test_the_login_answers_a_typed_token_pair(schema):
    for path in ("/api/v1/auth/token", "/api/v1/auth/token/refresh"):
        ok = schema["paths"][path]["post"]["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"]
        pair = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(pair["required"]) == {"access", "refresh"}


def test_response_headers_are_declared(schema):
    for path, method, op in _operations(schema):
        replayable = method == "post" and "Idempotency-Key" in json.dumps(op.get("parameters", []))
        for status, response in op["responses"].items():
            headers = response.get("headers", {})
            assert headers["X-Request-ID"]["required"] is True, (path, status)
            if status in ("429", "503"):
                assert "Retry-After" in headers, (path, status)
            if status.startswith("2") and replayable:
                assert "Idempotent-Replayed" in headers, (path, status)
        assert "503" in op["responses"], path


def test_error_details_are_typed_per_status(schema):
    components = schema["components"]["schemas"]
    order = schema["paths"]["/api/v1/vendor/orders"]["post"]["responses"]

    def details(status: str) -> dict[str, Any]:
        ref = order[status]["content"]["application/json"]["schema"]["$ref"]
        error = components[ref.rsplit("/", 1)[1]]["properties"]["error"]
        assert set(error["properties"]["code"]["enum"]) == {
            c for c, s in STATUS_BY_CODE.items() if str(s) == status
        }
        name = error["properties"]["details"]["$ref"].rsplit("/", 1)[1]
        return dict(components[name])

    assert details("402")["required"] == ["available", "required", "shortfall"]
    assert details("402")["properties"]["shortfall"] == {"$ref": "#/components/schemas/Money"}
    assert "reason" in details("409")["properties"]
    assert "idempotency_key" in details("422")["properties"]
    assert details("429")["properties"]["retry_after"]["type"] == "integer"
    assert "additionalProperties" in details("400")


def test_the_overview_covers_what_an_integrator_needs(schema):
    overview = schema["info"]["description"]
    for heading in (
        "## Authentication",
        "## Test mode",
        "## Idempotency",
        "## Pagination",
        "## Errors",
        "## Rate limits",
        "## Webhooks",
    ):
        assert heading in overview
    assert "webhook-signature" in overview and "/succeed" in overview


def test_every_webhook_event_type_has_a_payload_schema(schema):
    listed = schema["x-webhooks"]
    assert set(listed) == set(EVENT_TYPES)
    for event_type, ref in listed.items():
        component = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        assert component["properties"]["type"]["enum"] == [event_type]
        assert component["properties"]["data"]["properties"], event_type


def test_a_blank_webhook_description_is_what_the_schema_says_it_may_send(schema):
    body = schema["components"]["schemas"]["VendorWebhookEndpointListInputRequest"]
    description = body["properties"]["description"]
    assert description.get("default") == "" and description.get("minLength", 0) == 0
    patch = schema["components"]["schemas"]["PatchedVendorWebhookEndpointDetailUpdateRequest"]
    assert patch["properties"]["description"].get("minLength", 0) == 0


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
                assert ref.endswith("ErrorEnvelope"), (path, status)
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
        assert header[0]["schema"]["minLength"] == 1 and header[0]["schema"]["maxLength"] == 255
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


def test_a_webhook_endpoint_takes_the_schemas_default_description():
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="docs")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    created = client.post(
        "/api/v1/vendor/webhook-endpoints",
        {"url": "https://93.184.215.14/hooks", "events": ["*"], "description": ""},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["description"] == ""
    changed = client.patch(
        f"/api/v1/vendor/webhook-endpoints/{created.json()['id']}",
        {"description": ""},
        format="json",
    )
    assert changed.status_code == 200, changed.content
