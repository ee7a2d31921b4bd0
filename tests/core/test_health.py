import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_ok_when_everything_answers(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run `make test`)")
def test_readyz_is_503_naming_redis_when_redis_is_down(api_client):
    dead = "redis://127.0.0.1:1/0"
    caches_conf = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": dead,
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    with override_settings(CACHES=caches_conf, CELERY_BROKER_URL=dead):
        caches["default"] = caches.create_connection("default")
        try:
            response = api_client.get("/readyz")
        finally:
            del caches["default"]
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("failing")
    assert body["checks"]["broker"].startswith("failing")
    assert set(body["error"]["details"]["failing"]) == {"cache", "broker"}
    assert "cache" in body["error"]["message"]


def test_metrics_are_prometheus_text(api_client):
    api_client.get("/healthz")
    response = api_client.get("/metrics")
    assert response.status_code == 200
    assert "django_http_requests_total_by_method_total" in response.content.decode()
