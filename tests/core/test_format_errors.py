"""Errors always leave as JSON labelled application/json, also from endpoints that answer
CSV or an image; a `?format=` the endpoint does not have is a 400 naming `format`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.vendors.factories import vendor_client

pytestmark = pytest.mark.django_db


def _json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    return error


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_ACCEPT": "text/csv"}, {"HTTP_ACCEPT": "text/csv, application/json"}]
)
@pytest.mark.parametrize("query", ["", "?format=csv"])
def test_an_error_of_the_invoice_csv_is_json(headers, query):
    response = vendor_client().get(f"/api/v1/vendor/invoices/999999/lines.csv{query}", **headers)
    _json_error(response, 404, "not_found")


def test_an_unauthenticated_invoice_csv_is_a_json_401(api_client):
    response = api_client.get("/api/v1/vendor/invoices/1/lines.csv?format=csv")
    _json_error(response, 401, "not_authenticated")


@pytest.mark.parametrize("path", ["/api/v1/esims/{}/qr", "/api/v1/vendor/esims/{}/qr"])
@pytest.mark.parametrize("fmt", ["bogus", "json", "jpeg"])
def test_a_qr_in_an_unknown_format_is_a_400_naming_it(path, fmt):
    vendor = path.startswith("/api/v1/vendor/")
    client = vendor_client() if vendor else customer_client(UserFactory())
    response = client.get(path.format("8944500000000000001"), {"format": fmt})
    error = _json_error(response, 400, "validation_error")
    assert list(error["details"]) == ["format"]


def test_an_unknown_format_on_a_json_endpoint_is_a_400_naming_it():
    response = vendor_client().get("/api/v1/vendor/orders", {"format": "xml"})
    error = _json_error(response, 400, "validation_error")
    assert list(error["details"]) == ["format"]


def test_an_unknown_invoice_csv_format_is_a_400_naming_it():
    response = vendor_client().get("/api/v1/vendor/invoices/1/lines.csv", {"format": "pdf"})
    error = _json_error(response, 400, "validation_error")
    assert error["details"]["format"] == ["Must be one of: csv, json."]
