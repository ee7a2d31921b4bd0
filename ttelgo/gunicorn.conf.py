"""gunicorn for 2-core machines: one threaded worker per core (views mostly wait on I/O)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core: on 2 cores `make bench` measured 2 workers x 4 threads at 3.5x the
# order throughput of 4 x 4 at 32 clients (fewer processes fighting PostgreSQL for the CPU);
# threads cover the time a request waits on PostgreSQL and Redis (docs/PERFORMANCE.md).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # access lines come from django-structlog
