"""Under /api/ an unmatched path is a 404 in the envelope whatever the method: an unsafe
method is not asked for a CSRF token first (there is nothing there to protect), while the
real routes that take a session keep Django's CSRF check."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/vendor/webhook-endpoints/abc/test",
    "/api/v1/vendor/nothing-here",
    "/api/v1/orders/abc/cancel",
    "/api/v1/no/such/thing",
    "/api/nothing",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_an_unknown_api_path_is_a_404_in_the_envelope(path, method):
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["request_id"] == response["X-Request-ID"]


def test_the_session_pages_keep_their_csrf_check():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/portal/accounts/login/", {"login": "a@example.com", "password": "b"}
    )
    assert response.status_code == 403
