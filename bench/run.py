"""`make bench`: TTelGo's figures against the limits of the machine it runs on.

Runs under `.ci/services.sh` (throwaway PostgreSQL + Redis; DATABASE_URL, REDIS_URL, PGBIN,
SERVICES_TMP exported). Starts fake eSIM Go and Stripe servers on loopback, migrates and
seeds, serves the app with gunicorn (production settings, DEBUG off) and a real Celery
worker, then measures, side by side in the same run:

1. B2B order ceiling: the SQL of one `POST /api/v1/vendor/orders`, captured from the app,
   replayed with pgbench, vs the endpoint under wrk, at 1/8/32 clients, over 1,000
   vendors and over one hot vendor;
2. catalogue: cached `GET /api/v1/catalogue/bundles?country=..` vs a bare view;
3. provisioning latency: signed `payment_intent.succeeded` webhook -> order completed;
4. growth: order creation and vendor statement p50 at ~1k, 100k and 1M ledger entries;
5. ready stock: a burst of 1,000 B2B orders from 32 clients with stock off (the direct
   path, provisioned under the provider cap) and on (delivered in the 201), and time to
   eSIM for a stocked bundle at 8 clients (bench/stock_burst.py);
plus the provider rate cap with 4 worker processes provisioning a backlog of real orders
through the eSIM Go client: a check that fails the run (exit 1) when the cap was exceeded,
not pressed, or not exercised at all.

Knobs (environment): BENCH_SECONDS (per load run, default 8), BENCH_VENDORS (1000),
BENCH_PROVISION_ORDERS (240), BENCH_PROVISION_RATE (orders/s, 2), BENCH_RATE_CAP_ORDERS
(80), BENCH_GROWTH ("100000,1000000"), BENCH_RESULTS (JSON output path), BENCH_PHASES
(comma-separated subset of catalogue,orders,request_log,rate_cap,stock_burst,provisioning,
growth), BENCH_STOCK_BURST (orders per burst of the stock phase, 1000),
GUNICORN_WORKERS / GUNICORN_THREADS.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Figures  # noqa: E402
from bench.procs import Processes, free_port, wait_http  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TIME_LIMIT_SECONDS = 40 * 60  # hard stop for the whole run, whatever hangs
LOGS_COPY = Path("/tmp/ttelgo-bench-logs")  # noqa: S108 (the run dir goes with the services)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Bench:
    def __init__(self) -> None:
        for name in ("DATABASE_URL", "REDIS_URL", "PGBIN", "SERVICES_TMP"):
            if not os.environ.get(name):
                raise SystemExit(f"{name} is not set: run through `make bench` (.ci/services.sh)")
        self.work = Path(os.environ["SERVICES_TMP"]) / "bench"
        self.work.mkdir(parents=True, exist_ok=True)
        self.seconds = _env_int("BENCH_SECONDS", 8)
        self.vendor_count = _env_int("BENCH_VENDORS", 1000)
        self.procs = Processes(self.work)
        self.ports = {"esimgo": free_port(), "stripe": free_port(), "app": free_port()}
        self.base_url = f"http://127.0.0.1:{self.ports['app']}"
        self.esimgo_url = f"http://127.0.0.1:{self.ports['esimgo']}"
        self.stripe_url = f"http://127.0.0.1:{self.ports['stripe']}"
        self.results: dict[str, Any] = {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        }
        self.env = self._app_env()
        # filled in by bench.phases.prepare / orders
        self.vendors: list[Any] = []
        self.keys_all = self.work / "keys-all.txt"
        self.keys_hot = self.work / "keys-hot.txt"
        self.capture_key = ""
        self.capture_vendor: Any = None
        # checks that failed (the run then exits 1); figures against targets are not checks
        self.failures: list[str] = []

    # --- environment --------------------------------------------------------------------
    def _app_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "DEBUG": "false",
                "SECURE_SSL_REDIRECT": "false",
                "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
                "ESIM_PROVIDER": "esimgo",
                "ESIMGO_API_KEY": "bench-esimgo-key",
                "ESIMGO_BASE_URL": self.esimgo_url,
                "PAYMENTS_BACKEND": "stripe",
                "STRIPE_SECRET_KEY": "sk_test_bench_" + secrets.token_hex(8),
                "STRIPE_API_BASE": self.stripe_url,
                "STRIPE_WEBHOOK_SECRET": "whsec_bench_" + secrets.token_hex(16),
                "CELERY_TASK_ALWAYS_EAGER": "false",
                # The order path is measured, not the per-vendor throttles (their Redis round
                # trips stay in the request; only the limits are raised).
                "THROTTLE_VENDOR": "100000000/min",
                "THROTTLE_VENDOR_ORDERS": "100000000/min",
                "EMAIL_URL": "consolemail://",
                "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                "BENCH_BARE_VIEW": "true",
                "BENCH_BARE_BODY_FILE": str(self.work / "catalogue-body.json"),
                "GUNICORN_BIND": f"127.0.0.1:{self.ports['app']}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def django_setup(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()

    # --- processes ----------------------------------------------------------------------
    def start_fakes(self) -> None:
        for kind in ("esimgo", "stripe"):
            proc = self.procs.start(
                f"fake-{kind}",
                [sys.executable, "-m", "bench.fakes", kind, "--port", str(self.ports[kind])],
                env=self.env,
                cwd=ROOT,
            )
            wait_http(f"http://127.0.0.1:{self.ports[kind]}/__bench/reset", proc=proc)

    def start_app(self, **overrides: str) -> None:
        proc = self.procs.start(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "-c",
                str(ROOT / "config" / "gunicorn.conf.py"),
            ],
            env={**self.env, **overrides},
            cwd=ROOT,
        )
        wait_http(f"{self.base_url}/healthz", timeout=60, proc=proc)

    def restart_app(self, **overrides: str) -> None:
        """The app again, with these environment settings on top of the bench's."""
        self.procs.stop("gunicorn")
        self.start_app(**overrides)

    def start_worker(self, *, concurrency: int, name: str, queues: str = "") -> None:
        """A worker consuming `queues` (comma-separated; default: every queue, as the
        bench's single worker must)."""
        from config.celery import app
        from ttelgo.queues import QUEUES

        log = self.work / f"{name}.log"
        proc = self.procs.start(
            name,
            [
                str(VENV_BIN / "celery"), "-A", "config", "worker", "-l", "INFO",
                "-Q", queues or ",".join(QUEUES),
                "-c", str(concurrency), "-P", "prefork", "-n", f"{name}@bench",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            env=self.env,
            cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: see {log}")
            try:
                if app.control.ping(destination=[f"{name}@bench"], timeout=1.0):
                    return
            except Exception:  # a broker that restarted: reconnect and ask again
                app.pool.force_close_all()
                time.sleep(0.5)
        raise RuntimeError(f"celery worker not ready after 60s: see {log}")

    def purge_queue(self) -> int:
        """Empty every queue (seeding queued emails); the number of tasks dropped."""
        from config.celery import app
        from ttelgo.queues import QUEUES

        dropped = 0
        with app.connection_for_write() as conn:
            for queue in QUEUES:
                dropped += int(conn.default_channel.queue_purge(queue) or 0)
        return dropped

    # --- the run --------------------------------------------------------------------------
    def run(self) -> None:
        from bench import phases

        t0 = time.monotonic()
        self.start_fakes()
        self.django_setup()
        phases.prepare(self)
        self.purge_queue()  # seeding queued 1,000 welcome emails; measure our own tasks only
        self.start_app()
        wanted = os.environ.get(
            "BENCH_PHASES",
            "catalogue,orders,request_log,rate_cap,stock_burst,provisioning,growth",
        ).split(",")
        phases_all = (
            "catalogue", "orders", "request_log", "rate_cap", "stock_burst", "provisioning",
            "growth",
        )  # fmt: skip
        for name in phases_all:
            if name in wanted:
                getattr(phases, name)(self)
        self.results["elapsed_seconds"] = round(time.monotonic() - t0, 1)
        phases.summary(self)

    def close(self) -> None:
        self.procs.stop_all()
        shutil.rmtree(LOGS_COPY, ignore_errors=True)
        shutil.copytree(self.work, LOGS_COPY, ignore=shutil.ignore_patterns("pgbench-*"))


def print_figures(title: str, rows: list[Figures]) -> None:
    print(f"\n{title}")
    print(f"  {'run':34} {'clients':>7} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for f in rows:
        print(
            f"  {f.label:34} {f.clients:>7} {f.per_second:>9.1f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.errors:>7}"
        )


def _on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGALRM, _on_term)
    signal.alarm(TIME_LIMIT_SECONDS)
    bench = Bench()
    try:
        bench.run()
        return 1 if bench.failures else 0
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted ({exc}); stopping everything", file=sys.stderr)
        return 130
    finally:
        bench.close()
        print(f"bench: logs copied to {LOGS_COPY}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
