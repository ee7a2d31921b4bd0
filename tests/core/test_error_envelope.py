"""Every error class leaves the API in the one envelope of API.md."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_boom")]


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


def test_validation_error_lists_field_details(api_client):
    response = api_client.post("/api/v1/auth/register", {"email": "nope"}, format="json")
    error = assert_envelope(response, 400, "validation_error")
    assert "email" in error["details"] and "password" in error["details"]


def test_malformed_json_is_a_validation_error(api_client):
    response = api_client.post(
        "/api/v1/auth/register", data="{not json", content_type="application/json"
    )
    assert_envelope(response, 400, "validation_error")


def test_missing_credentials_are_not_authenticated(api_client):
    response = api_client.get("/api/v1/me")
    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_bearer_token_is_not_authenticated(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_envelope(api_client.get("/api/v1/me"), 401, "not_authenticated")


def test_unknown_api_url_is_not_found(api_client):
    assert_envelope(api_client.get("/api/v1/no/such/thing"), 404, "not_found")


def test_unknown_api_url_is_not_found_with_debug_on_too(api_client, settings):
    # `make run` serves with DEBUG on, where Django answers an unmatched URL with its
    # HTML debug page instead of handler404.
    settings.DEBUG = True
    assert_envelope(api_client.post("/api/v1/no/such/thing", {}), 404, "not_found")
    assert_envelope(api_client.get("/api/v1/orders/"), 404, "not_found")
    # The catch-all leaves Django's slash redirect of the docs alone.
    assert api_client.get("/api/docs").headers["Location"] == "/api/docs/"
    admin = api_client.get("/admin/no/such/page")
    assert admin.status_code in (302, 404) and "error" not in admin.content.decode()


def test_wrong_method_is_method_not_allowed(api_client):
    assert_envelope(api_client.get("/api/v1/auth/register"), 405, "method_not_allowed")


def test_unsupported_media_type(api_client):
    response = api_client.post(
        "/api/v1/auth/register", data="email=a", content_type="application/x-www-form-urlencoded"
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_domain_error_keeps_its_code_status_and_details(api_client):
    error = assert_envelope(api_client.get("/api/v1/test/domain"), 402, "insufficient_funds")
    assert error["details"] == {"needed": "1.00"}


def test_unhandled_exception_is_a_500_envelope_without_internals():
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/test/boom")
    error = assert_envelope(response, 500, "internal_error")
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    assert error["details"] == {}


def test_throttled_login_is_rate_limited_with_retry_after(api_client, settings):
    from django.conf import settings as live

    rates = {**live.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "3/min"}
    with override_settings(REST_FRAMEWORK={**live.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        from rest_framework.throttling import ScopedRateThrottle

        ScopedRateThrottle.THROTTLE_RATES = rates
        try:
            body = {"email": "x@example.com", "password": "wrong-password-1"}
            statuses = [
                api_client.post("/api/v1/auth/token", body, format="json").status_code
                for _ in range(4)
            ]
            assert statuses[:3] == [401, 401, 401]
            response = api_client.post("/api/v1/auth/token", body, format="json")
        finally:
            from rest_framework.settings import api_settings

            ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    error = assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert error["details"]["retry_after"] == int(response["Retry-After"])


def test_request_id_is_echoed_when_valid_and_minted_otherwise(api_client):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert response["X-Request-ID"] != "bad id with spaces\n"
    assert len(response["X-Request-ID"]) == 32


def test_request_id_on_error_responses_matches_envelope(api_client):
    response = api_client.get("/api/v1/me", HTTP_X_REQUEST_ID="trace-42")
    assert response.json()["error"]["request_id"] == "trace-42"
