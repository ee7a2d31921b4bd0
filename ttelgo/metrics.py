"""Business metrics (prometheus-client), with the names Prometheus conventions expect.

Under gunicorn and Celery every process writes its samples to `PROMETHEUS_MULTIPROC_DIR`
(set by `config/gunicorn.conf.py` and by the worker's environment) and `/metrics` adds
them up across processes, so one scrape sees every worker. A counter of something that a
transaction writes is incremented when that transaction commits (`count_on_commit`): a
rolled-back order is not counted.

`/metrics` is not public in production: it answers only with `Authorization: Bearer
<METRICS_TOKEN>`, and not at all (404) while no token is configured.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Counter, Gauge, Histogram

ORDERS_CREATED = Counter(
    "orders_created", "Orders created, by channel (b2b, b2c) and kind (esim, topup)",
    ["channel", "kind"],
)  # fmt: skip
ORDERS_COMPLETED = Counter("orders_completed", "Orders completed, by channel", ["channel"])
ORDERS_FAILED = Counter("orders_failed", "Orders that failed, by channel", ["channel"])
ORDER_PROVISIONING_SECONDS = Histogram(
    "order_provisioning_seconds",
    "From an order's creation to its completion",
    ["channel"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
PROVIDER_CALLS = Counter(
    "provider_calls", "Calls to the eSIM provider, by operation and outcome",
    ["provider", "operation", "outcome"],
)  # fmt: skip
PROVIDER_CIRCUIT_OPEN = Gauge(
    "provider_circuit_open",
    "1 while the provider's circuit breaker is open (calls refused), else 0",
    ["breaker"],
    multiprocess_mode="max",
)
RATE_LIMITER_WAITS = Counter(
    "provider_rate_limiter_waits", "Provider calls that waited for the rate limiter", ["limiter"]
)
RATE_LIMITER_WAIT_SECONDS = Counter(
    "provider_rate_limiter_wait_seconds", "Time provider calls spent waiting", ["limiter"]
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_delivery_attempts",
    "Outbound webhook attempts, by outcome (succeeded, retrying, failed)",
    ["outcome"],
)
LEDGER_POSTINGS = Counter("ledger_postings", "Ledger transactions posted, by kind", ["kind"])
TICKET_ANSWER_EMAIL_FAILURES = Counter(
    "ticket_answer_email_failures", "Operators' ticket answers that could not be emailed"
)
IDEMPOTENT_REPLAYS = Counter(
    "idempotent_replays", "Requests answered from a stored Idempotency-Key response"
)


def count_on_commit(counter: Any, amount: float = 1) -> None:
    """Increment `counter` (a labelled child) once the current transaction commits."""
    transaction.on_commit(lambda: counter.inc(amount))


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`/metrics`: django-prometheus's exporter (multiprocess-aware), behind the token."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.METRICS_PUBLIC:
        raise Http404("no metrics here")
    return ExportToDjangoView(request)
