"""Schemathesis against a live server, bounded: every operation of the client schema, a
few generated cases each, as a vendor (test key and live key) and as a customer, with the
not-a-server-error, status-code, content-type, response-schema and response-headers
checks. Part of `make test` (the whole suite), so CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund
from vendors.models import Vendor
from vendors.services import api_key_issue, vendor_test_environment

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)


def _st(url: str, authorization: str, *extra: str, cwd: Path) -> str:
    """The run's report; fails the test on any failure, or if the credentials did not
    get the cases past authentication (a run that tested nothing)."""
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{url}/api/schema/",
            "--checks",
            CHECKS,
            "--max-examples",
            "3",
            "--seed",
            "1",
            "--generation-deterministic",
            "--phases",
            "examples,fuzzing",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--header",
            f"Authorization: {authorization}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,  # its cache (.schemathesis/) stays out of the repository and each run
    )
    assert run.returncode == 0, run.stdout[-8000:]
    assert "Authentication failed" not in run.stdout, run.stdout[-8000:]
    return run.stdout


@pytest.fixture
def vendor() -> Vendor:
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 1_000_000)
    return vendor


@pytest.mark.django_db(transaction=True)
def test_schemathesis_as_a_vendor_with_a_test_key(live_server, vendor, tmp_path):
    test_env, _ = vendor_test_environment(vendor=vendor)
    fund(test_env, 1_000_000)
    _, key = api_key_issue(vendor=test_env, name="st")
    _st(live_server.url, f"Api-Key {key}", "--include-path-regex", "^/api/v1/vendor/", cwd=tmp_path)


@pytest.mark.django_db(transaction=True)
def test_schemathesis_as_a_vendor_with_a_live_key_reading(live_server, vendor, tmp_path):
    _, key = api_key_issue(vendor=vendor, name="st")
    _st(
        live_server.url,
        f"Api-Key {key}",
        "--include-path-regex",
        "^/api/v1/vendor/",
        # (filters of one kind add up: reads are what is left without the writes)
        *[
            arg
            for method in ("POST", "PUT", "PATCH", "DELETE")
            for arg in ("--exclude-method", method)
        ],
        cwd=tmp_path,
    )


@pytest.mark.django_db(transaction=True)
def test_schemathesis_as_a_customer(live_server, tmp_path):
    bundles_create()
    client = customer_client(UserFactory())
    token = client._credentials["HTTP_AUTHORIZATION"]  # "Bearer <access>"
    _st(live_server.url, token, "--exclude-path-regex", "^/api/v1/vendor/", cwd=tmp_path)
