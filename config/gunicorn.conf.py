"""gunicorn for 2-core machines: two worker processes per core, two threads each."""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# On 2 cores `make bench` measured, at 32 clients, vendor orders/s for workers x threads:
# 2x4 133-142, 2x8 115, 3x2 133, 3x4 145, 4x1 129, 6x1 133, 4x2 156, and the bare view 1,057/s
# at 2x4 against 1,613/s at 4x2: two threads per process wait on PostgreSQL and Redis for
# each other without fighting over one GIL; more processes than that only add switching
# (4x4 was 3.5x slower than 2x4 in the first runs). docs/PERFORMANCE.md has the runs.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# gunicorn answers requests beyond these itself, before Django, as plain HTML (400 "Request
# Line is too large", 431 for headers) and not in the API's error envelope; the limits are
# set high so no real client meets them (a request line up to 8190 bytes, the most gunicorn
# allows; headers up to 16 KiB each, 100 of them). docs/RELIABILITY.md lists them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # access lines come from django-structlog

# Metrics from every worker process: each writes its samples under
# PROMETHEUS_MULTIPROC_DIR and /metrics adds them up (prometheus-client multiprocess mode).
# Set here, before any worker imports the app; a fresh directory per server start.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ttelgo-metrics-")
else:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker that exits stops counting as live for its gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
