"""Business metrics: counted once their transaction commits, readable at /metrics only
with the token in production, and summed across gunicorn's worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection, transaction
from prometheus_client import REGISTRY

from orders.services import order_create_b2b
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from vendors.models import Vendor, VendorAPIKey


def _created(channel: str) -> float:
    value = REGISTRY.get_sample_value("orders_created_total", {"channel": channel, "kind": "esim"})
    return value or 0.0


@pytest.mark.django_db
def test_an_order_is_counted_when_it_commits_and_not_when_it_rolls_back(
    django_capture_on_commit_callbacks,
):
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 10_000)
    before = _created("b2b")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
        raise RuntimeError("rolled back")
    assert callbacks == []  # the rolled-back savepoint took its on-commit work with it
    assert _created("b2b") == before
    with django_capture_on_commit_callbacks(execute=True):
        order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    assert _created("b2b") == before + 1


@pytest.mark.django_db
def test_metrics_need_the_token_and_are_never_public_in_production(client, settings):
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-for-tests")
    assert ok.status_code == 200 and b"orders_created_total" in ok.content
    settings.METRICS_TOKEN = ""
    settings.METRICS_PUBLIC = False  # production's value
    assert client.get("/metrics").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_scrape_sums_100_orders_across_4_gunicorn_workers(tmp_path):
    bundles_create()
    vendor: Vendor = VendorFactory.create(billing_mode="prepaid", currency="USD")
    fund(vendor, 100_000)
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="metrics")
    db = connection.settings_dict
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "4",
        "GUNICORN_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "THROTTLE_VENDOR_ORDERS": "10000/min",
        "THROTTLE_VENDOR": "10000/min",
        "METRICS_TOKEN": "",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        def order(i: int) -> int:
            response = requests.post(
                f"{base}/api/v1/vendor/orders",
                json={"bundle_code": BUNDLE_CODE, "quantity": 1},
                headers={"Authorization": f"Api-Key {key}", "Idempotency-Key": f"metrics-{i}"},
                timeout=60,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(order, range(100)))
        assert statuses == [201] * 100
        body = requests.get(f"{base}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=30)
    samples = [line for line in body.splitlines() if line.startswith("orders_created_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in samples) == 100, samples
    # More than one worker process served them (each keeps its own file).
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2


def test_a_celery_worker_serves_its_processes_metrics(tmp_path, monkeypatch):
    """What a worker's child processes count (files under PROMETHEUS_MULTIPROC_DIR) is
    served on CELERY_METRICS_PORT once the worker is ready."""
    from config.celery import _metrics_serve

    metrics_dir = tmp_path / "worker-metrics"
    metrics_dir.mkdir()
    child = (
        "from prometheus_client import Counter\n"
        "Counter('orders_completed', 'x', ['channel']).labels(channel='b2b').inc(3)\n"
    )
    subprocess.run(
        [sys.executable, "-c", child],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        check=True,
        timeout=60,
    )
    port = _free_port()
    monkeypatch.setenv("CELERY_METRICS_PORT", str(port))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    _metrics_serve()
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'orders_completed_total{channel="b2b"} 3.0' in body
