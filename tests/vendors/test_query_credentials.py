"""Credentials never travel in a vendor API URL: a key (or a token, a secret) in the query
string is a 400 `credentials_in_query`, and the request log keeps query strings with such
values redacted, so a role that may read the log (finance) never reads a live key."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.vendors.factories import key_client, vendor_with_key
from vendors.models import ApiRequestLog
from vendors.request_log import REDACTED, Note, notes_write, query_for_log, query_secrets


@pytest.mark.django_db
def test_a_key_in_the_query_string_is_refused_with_a_precise_400():
    vendor, raw = vendor_with_key()
    api = key_client(raw)
    refused = api.get(f"/api/v1/vendor/balance?api_key={raw}")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "credentials_in_query"
    assert error["details"] == {"parameters": ["api_key"]}
    assert raw not in refused.content.decode()
    # Whatever the parameter's name, a value that is one of our keys; without a header too.
    named_otherwise = key_client("").get("/api/v1/vendor/orders", {"ref": raw})
    assert named_otherwise.status_code == 400
    assert named_otherwise.json()["error"]["details"] == {"parameters": ["ref"]}
    for name in ("token", "Secret", "password", "signature", "X-Api-Key", "access_token"):
        answered = api.get("/api/v1/vendor/balance", {name: "x"})
        assert answered.json()["error"]["code"] == "credentials_in_query", name
    # A documented filter whose name merely mentions a key is not a credential.
    assert api.get("/api/v1/vendor/request-logs", {"idempotency_key": "k-1"}).status_code == 200
    # The vendor finds the refusal in its log, with the key redacted; the key is nowhere.
    line = ApiRequestLog.objects.get(vendor=vendor, status=400, path="/api/v1/vendor/balance",
                                     query__startswith="api_key=")  # fmt: skip
    assert line.query == f"api_key={REDACTED}"
    assert not ApiRequestLog.objects.filter(query__contains=raw.split(".")[-1]).exists()


def test_query_strings_are_kept_with_credentials_redacted():
    query = (
        "status=completed&api_key=ttg_live_Ab12Cd34.secret&Token=abc&ref=ttg_test_Zz.y"
        "&page=2&idempotency_key=k-1&auth_token=t&ttg_live_bare.key"
    )
    assert query_for_log(query) == (
        f"status=completed&api_key={REDACTED}&Token={REDACTED}&ref={REDACTED}"
        f"&page=2&idempotency_key=k-1&auth_token={REDACTED}&{REDACTED}"
    )
    assert query_secrets(query) == ["api_key", "Token", "ref", "auth_token", REDACTED]
    legacy = "AbCd1234." + "x" * 32  # a key issued before test mode: no marker
    assert query_for_log(f"k2={legacy}") == f"k2={REDACTED}"
    assert query_for_log("status=completed&page=2") == "status=completed&page=2"


@pytest.mark.django_db
def test_the_log_stores_the_query_string_redacted():
    vendor, raw = vendor_with_key()
    note = Note(
        vendor_id=vendor.pk,
        key_prefix="ttg_live_x",
        at=timezone.now(),
        method="GET",
        path="/api/v1/vendor/orders",
        query=f"status=completed&api_key={raw}",
        status=200,
        latency_ms=1,
        request_id="r-1",
        idempotency_key="",
        request_body=b"",
        response_body=b'{"note": "' + raw.encode() + b'"}',
        json_response=True,
    )
    assert notes_write([note]) == 1
    line = ApiRequestLog.objects.get(vendor=vendor)
    assert line.query == f"status=completed&api_key={REDACTED}"
    assert raw not in line.query + line.response_body
