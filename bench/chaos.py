"""`make chaos`: TTelGo run the way production runs it, then hurt on purpose.

Runs under `.ci/services.sh` (throwaway PostgreSQL + Redis). Starts the fake eSIM Go and
Stripe servers on loopback, gunicorn with the production settings, one real Celery worker
per pool as production runs them (provisioning, webhooks, test, maintenance, recovery:
ttelgo/queues.py) and beat, then plays eleven scenarios, each load bounded in time and
count and sent only to 127.0.0.1:

1. hot vendor: 20 clients on one prepaid vendor while the worker completes its orders;
2. spread: 32 clients over 50 vendors;
3. worker killed: the worker's children and then its master SIGKILLed mid-provisioning
   (provider latency on), then restarted;
4. Redis down 20 s during traffic (killed, restarted on its append-only file);
5. PostgreSQL restarted during traffic;
6. provider faults: 30 % errors and timeouts over 200 orders;
7. payment events: the four events of a declined-paid-refunded payment delivered in
   every one of their 24 orders, each for its own order;
8. noisy test tenant: one vendor's test key places orders while five of its test
   webhook endpoints (a loopback receiver of ours) answer after 9.5 s, and another
   vendor places live orders: the live p95 from order to completed stays within twice
   its baseline, measured first in the same run;
9. Redis lost: `shutdown nosave` right after a burst of accepted orders (their queued
   tasks are gone), Redis restarted empty: every order completes within 2 minutes of
   Redis returning.
10. stock outage: 50 eSIMs of one bundle bought for stock, then eSIM Go answers 503 for
   60 s while clients order that bundle and an unstocked one: every stocked order is
   answered 201 completed (counted), the unstocked ones complete after the provider
   returns, nothing is bought twice, inventory matches the stock on hand;
11. failover: a loopback Airalo beside eSIM Go, gunicorn and the pools restarted with
   both routed: with eSIM Go answering 503 an order both offer completes through
   Airalo; with both down orders wait and complete after recovery; 200 orders with
   random faults on both buy nothing twice at either provider, and the ledger balances.

In every scenario it also counts the tasks queued per order and per webhook delivery
(every process appends its sends to TASKS_PUBLISH_LOG; Celery's own retries aside) and
fails when an item was queued more than once per lease: 1 + its attempts (each attempt
starts a new lease) + the queue epochs of the scenario (worker starts, a lost broker) +
the leases that ran out.

After each, it waits for every order to be final and checks the answers (only the
statuses the scenario allows: never a 500), the ledger (integrity check, no pending hold
on a final order), and the provider's own count (no reference of ours bought twice).
It prints a table; any failed check makes it exit 1, which fails CI.

The clients together offer CHAOS_RATE orders a second (default 25): on the 2 cores CI
has, gunicorn, the worker, PostgreSQL, Redis, the fakes and the clients share the CPU,
and the worker provisions about 35 orders a second at best while the API alone accepts
over 55, so a faster offer only grows the queue (a capacity question, answered by more
workers, and measured by `make bench`), not a correctness one.

Knobs (environment): CHAOS_SECONDS (load length of scenarios 1-2, default 30), CHAOS_RATE,
CHAOS_SCENARIOS (comma-separated subset of hot,spread,worker_killed,redis_down,
postgres_restart,provider_faults,payment_events,noisy_tenant,redis_lost,stock_outage,
failover),
CHAOS_WORKER_CONCURRENCY (the provisioning pool's processes, 8).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Bench  # noqa: E402

TIME_LIMIT_SECONDS = 25 * 60
FINAL = ("completed", "failed", "refunded", "cancelled")
BUNDLE = "esim_1GB_7D_GB_V2"
READ_TIMEOUT = 2.0  # the app's eSIM Go read timeout here (a timeout fault answers later)


def _say(message: str) -> None:
    print(f"chaos: {message}", flush=True)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# --- HTTP -------------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the app, as one API client would hold."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = headers
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        data = (
            json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        )
        all_headers = {"Content-Type": "application/json", **self.headers, **(headers or {})}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=all_headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, dict(response.getheaders()), payload
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return 0, {}, b""  # no answer at all
        return 0, {}, b""


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    created: list[int] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, order_id: int | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if order_id is not None:
                self.created.append(order_id)


def order_once(client: Client, tally: Tally, *, quantity: int = 1) -> None:
    """One vendor order as a well-behaved client places it: a fresh Idempotency-Key, and on
    a 503 the same key again after Retry-After."""
    key = str(uuid.uuid4())
    for _ in range(30):
        status, headers, payload = client.request(
            "POST",
            "/api/v1/vendor/orders",
            {"bundle_code": BUNDLE, "quantity": quantity},
            {"Idempotency-Key": key},
        )
        order_id = json.loads(payload)["id"] if status == 201 else None
        tally.record(status, order_id)
        if status not in (0, 503):
            return
        time.sleep(min(float(headers.get("Retry-After", "1")), 2.0))


def order_load(
    *,
    port: int,
    keys: list[str],
    clients: int,
    seconds: float,
    tally: Tally,
    max_orders: int | None = None,
    rate: float | None = None,
    events: list[tuple[float, Callable[[], None]]] = (),  # type: ignore[assignment]
) -> None:
    """`clients` threads placing orders for `seconds` (or until `max_orders` were
    created), together at most `rate` orders a second (default CHAOS_RATE); `events` run
    at their offset from the start, on this thread."""
    deadline = time.monotonic() + seconds
    interval = clients / (rate or float(os.environ.get("CHAOS_RATE", "25")))

    def run(n: int) -> None:
        client = Client(port, {"Authorization": f"Api-Key {keys[n % len(keys)]}"})
        next_at = time.monotonic() + interval * n / clients  # spread the clients' phases
        while time.monotonic() < deadline:
            if max_orders is not None and len(tally.created) >= max_orders:
                return
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            order_once(client, tally)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for offset, action in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, start + offset - time.monotonic()))
        action()
    for t in threads:
        t.join(timeout=seconds + 120)


# --- the platform's state ---------------------------------------------------------------


def _db() -> None:
    from django.db import close_old_connections, connection

    close_old_connections()
    connection.close()  # after a PostgreSQL restart the old connection is gone


def wait_final(order_ids: list[int], timeout: float) -> float | None:
    """Seconds until every order is final, or None if some are not within `timeout`."""
    from orders.models import Order

    start = time.monotonic()
    while True:
        _db()
        try:
            open_count = Order.objects.filter(pk__in=order_ids).exclude(status__in=FINAL).count()
        except Exception as exc:  # the database coming back
            _say(f"  (waiting on the database: {exc})")
            open_count = -1
        if open_count == 0:
            return round(time.monotonic() - start, 1)
        if int(time.monotonic() - start) % 5 == 0:
            _say(f"  {open_count} orders not final yet")
        if time.monotonic() - start > timeout:
            return None
        time.sleep(1.0)


def _describe_open(order_ids: list[int]) -> None:
    """What the orders still open look like (for the log of a failed run)."""
    from django.utils import timezone

    from orders.models import Order

    now = timezone.now()
    rows = Order.objects.filter(pk__in=order_ids).exclude(status__in=FINAL)[:10]
    for o in rows:
        _say(
            f"  open order {o.pk}: {o.status}, attempts {o.provisioning_attempts}, lease "
            f"{o.provisioning_lease_until and (o.provisioning_lease_until - now)}, due "
            f"{o.provisioning_due_at and (o.provisioning_due_at - now)}, updated "
            f"{now - o.updated_at} ago, provider ref {o.provider_reference!r}"
        )


def statuses_of(order_ids: list[int]) -> Counter[str]:
    from orders.models import Order

    _db()
    return Counter(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True))


def held_provider_orders(order_ids: list[int]) -> int:
    """How many distinct provider orders our orders record."""
    from orders.models import Order

    _db()
    return (
        Order.objects.filter(pk__in=order_ids)
        .exclude(provider_reference="")
        .values("provider_reference")
        .distinct()
        .count()
    )


def ledger_problems(order_ids: list[int]) -> list[str]:
    from ledger.integrity import ledger_integrity_check
    from ledger.models import Hold
    from orders.models import Order

    _db()
    problems = [f"{f.code}: {f.message}" for f in ledger_integrity_check()]
    final = Order.objects.filter(pk__in=order_ids, status__in=FINAL).values_list("pk", flat=True)
    pending = Hold.objects.filter(order_id__in=list(final), status=Hold.Status.PENDING).count()
    if pending:
        problems.append(f"{pending} final orders still hold funds")
    captured_failed = Hold.objects.filter(
        order_id__in=Order.objects.filter(pk__in=order_ids, status="failed").values("pk"),
        status=Hold.Status.CAPTURED,
    ).count()
    if captured_failed:
        problems.append(f"{captured_failed} failed orders were charged")
    return problems


# --- the harness ------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    orders: int = 0
    outcome: dict[str, int] = field(default_factory=dict)
    settle_seconds: float | None = None
    provider_orders: int = 0
    bought_twice: int = 0
    restarts: dict[str, int] = field(default_factory=dict)
    queued_max: int = 0  # the most tasks queued for one order or delivery
    figures: str = ""  # the scenario's own measurements, printed under the table
    failures: list[str] = field(default_factory=list)


class Chaos(Bench):
    def __init__(self) -> None:
        super().__init__()
        self.env.update(
            {
                "ESIMGO_RATE_LIMIT_PER_SECOND": "1000",
                "ESIMGO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
                # Provider faults are dense here: back off from 1 s to 20 s (not 5 s to 15
                # min), so ten attempts fit in the scenario's few minutes.
                "ORDERS_PROVISION_RETRY_BASE_SECONDS": "1",
                "ORDERS_PROVISION_RETRY_MAX_SECONDS": "20",
                "THROTTLE_AUTH": "100000/min",
                "BENCH_BARE_VIEW": "false",
                # Production's settings, plus webhook endpoints allowed on loopback.
                "DJANGO_SETTINGS_MODULE": "bench.chaos_settings",
                "PYTHONPATH": str(ROOT),
                "TASKS_PUBLISH_LOG": str(self.work / "published.jsonl"),
            }
        )
        self.publish_log = Path(self.env["TASKS_PUBLISH_LOG"])
        self.publish_log.touch()
        self.epochs = 0  # worker starts and broker losses: each voids the queued markers
        self.vendor_ids: list[int] = []
        self.keys: list[str] = []
        self.rows: list[Row] = []
        self.provider_before = 0
        # Provisioning waits on the provider (seconds per call under faults): I/O-bound, so
        # more processes than cores, as docker-compose.yml runs it.
        self.worker_concurrency = _env_int("CHAOS_WORKER_CONCURRENCY", 8)
        # One worker per pool, as docker-compose.yml runs them (processes per pool).
        self.pools = {
            "provisioning": self.worker_concurrency,
            "webhooks": 4,
            "test": 4,
            "maintenance": 2,
            "recovery": 1,
        }
        self.redis_port = int(os.environ["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        self.supervise = threading.Event()  # set: a worker or beat that exits is restarted
        self.restarts: Counter[str] = Counter()
        self.tmp = Path(os.environ["SERVICES_TMP"])

    # --- processes ----------------------------------------------------------------------
    def start_beat(self) -> None:
        self.procs.start(
            "beat",
            [
                str(Path(sys.executable).parent / "celery"), "-A", "config", "beat", "-l", "INFO",
                "-s", str(self.work / "beat-schedule"),
            ],
            env=self.env,
            cwd=ROOT,
        )  # fmt: skip

    def worker_pid(self, pool: str = "provisioning") -> int:
        for name, proc in self.procs.procs:
            if name == f"worker-{pool}" and proc.poll() is None:
                return proc.pid
        raise RuntimeError(f"no {pool} worker running")

    def supervisor(self) -> None:
        """What production's process supervisor does (docker-compose `restart:
        unless-stopped`, systemd): start the worker or beat again when it exits. The
        restarts are counted and printed: a run that needed one says so."""
        while True:
            time.sleep(1.0)
            if not self.supervise.is_set():
                continue
            for name in [*(f"worker-{pool}" for pool in self.pools), "beat"]:
                running = [p for n, p in self.procs.procs if n == name and p.poll() is None]
                if running:
                    continue
                self.restarts[name] += 1
                _say(f"  supervisor: {name} exited; starting it again")
                if name == "beat":
                    self.start_beat()
                else:
                    self.spawn_worker(name.removeprefix("worker-"))

    def fresh_worker_and_beat(self) -> None:
        """Each scenario starts with a new worker and beat, as after a deploy. (In one run
        of all seven, a worker that had lived through the Redis and then the PostgreSQL
        outage stayed connected but stopped taking tasks: docs/RELIABILITY.md.)"""
        self.supervise.clear()
        for pool in self.pools:
            self.procs.stop(f"worker-{pool}")
        self.procs.stop("beat")
        for pool in self.pools:
            self.spawn_worker(pool)
        self.start_beat()
        # Five workers boot at once: on a busy 2-core machine that takes longer than one
        # did, and a scenario whose load starts before they consume measures their boot.
        try:
            self.pools_ready(timeout=60)
        except RuntimeError as exc:  # after a broker restart our ping may be what is stale
            _say(f"  ({exc}; going on)")
        self.supervise.set()

    def spawn_worker(self, pool: str) -> None:
        """Start a pool's worker without asking it to answer a ping: after a broker
        restart this process's own control connection may be the one that is stale."""
        from ttelgo.queues import POOLS

        if pool in ("provisioning", "webhooks", "test"):
            self.epochs += 1  # such a worker's start voids the markers set before it
        # Test mode yields the CPU to live work, as docker-compose.yml's cpu_shares does.
        nice = ["nice", "-n", "10"] if pool == "test" else []
        self.procs.start(
            f"worker-{pool}",
            [
                *nice, str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
                "-l", "INFO", "-Q", ",".join(POOLS[pool]), "-c", str(self.pools[pool]),
                "-P", "prefork", "-n", f"{pool}@bench", "--without-gossip",
                "--without-mingle", "--without-heartbeat",
            ],
            env=self.env,
            cwd=ROOT,
        )  # fmt: skip

    def start_pools(self, pools: list[str] | None = None) -> None:
        """Start these pools' workers (default: all) and wait until each takes tasks."""
        pools = pools or list(self.pools)
        for pool in pools:
            self.spawn_worker(pool)
        self.pools_ready(pools)

    def pools_ready(self, pools: list[str] | None = None, *, timeout: float = 90) -> None:
        """Wait until each of these pools' workers (default: all) runs a probe task sent
        to its own queue (`worker_direct`, as `manage.py worker_alive` does): unlike a
        broadcast ping, this works on from a broker that restarted under this process."""
        from ttelgo.liveness import worker_answers

        deadline = time.monotonic() + timeout
        waiting = [f"{pool}@bench" for pool in pools or self.pools]
        while waiting and time.monotonic() < deadline:
            node = waiting[0]
            try:
                answered = worker_answers(node, timeout=min(10.0, timeout))
            except Exception:  # the broker coming back: send again
                answered = False
                time.sleep(0.5)
            if answered:
                waiting.pop(0)
        if waiting:
            raise RuntimeError(f"workers not ready after {timeout:.0f}s: {waiting}")

    def kill_worker_children(self) -> None:
        master = self.worker_pid()
        children = _children(master)
        _say(f"  SIGKILL worker children {children}")
        for pid in children:
            _kill(pid)

    def kill_worker_master(self) -> None:
        self.supervise.clear()  # the scenario restarts it itself, later
        master = self.worker_pid()
        _say(f"  SIGKILL worker master {master} (and what is left of its children)")
        for pid in [master, *_children(master)]:
            _kill(pid)

    def restart_worker(self) -> None:
        _say("  provisioning worker restarted")
        self.start_pools(["provisioning"])
        self.supervise.set()

    def redis_kill(self) -> None:
        pid = int((self.tmp / "redis.pid").read_text().strip())
        _say(f"  SIGKILL redis ({pid})")
        _kill(pid)

    def redis_start(self, *, durable: bool = True) -> None:
        subprocess.run(
            [
                "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if durable else "no",
                "--appendfsync", "everysec",
                "--daemonize", "yes", "--pidfile", str(self.tmp / "redis.pid"),
                "--dir", str(self.tmp), "--logfile", str(self.tmp / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        if not durable:
            self.epochs += 1  # back empty: every queued task is gone
        _say(f"  redis restarted {'on its append-only file' if durable else 'empty'}")

    def redis_shutdown_nosave(self) -> None:
        """Redis stops at once and keeps nothing (no snapshot, the append-only file off
        beforehand): every queued task is lost."""
        cli = ["redis-cli", "-p", str(self.redis_port)]
        _say("  redis SHUTDOWN NOSAVE")
        subprocess.run([*cli, "shutdown", "nosave"], capture_output=True, check=False)
        for _ in range(50):
            if subprocess.run([*cli, "ping"], capture_output=True).returncode != 0:
                return
            time.sleep(0.1)

    def redis_durable(self) -> None:
        """The production broker keeps an append-only file (docker-compose.yml): turn it
        on here too, and wait for the first rewrite, before killing Redis."""
        cli = ["redis-cli", "-p", str(self.redis_port)]
        subprocess.run(
            [*cli, "config", "set", "appendonly", "yes"], check=True, capture_output=True
        )
        for _ in range(100):
            info = subprocess.run([*cli, "info", "persistence"], capture_output=True, text=True)
            if "aof_rewrite_in_progress:0" in info.stdout and "aof_enabled:1" in info.stdout:
                return
            time.sleep(0.1)

    def pg_ctl(self, *args: str) -> None:
        run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        pgdata = str(self.tmp / "pg")
        subprocess.run(
            [*run_as, f"{os.environ['PGBIN']}/pg_ctl", "-D", pgdata, *args],
            check=True,
            capture_output=True,
        )

    def pg_stop(self) -> None:
        _say("  PostgreSQL stopping (fast)")
        self.pg_ctl("-m", "fast", "stop")

    def pg_start(self) -> None:
        self.pg_ctl("-w", "-l", str(self.tmp / "pg.log"), "start")
        _say("  PostgreSQL started again")

    def provider(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["esimgo"], timeout=30)
        conn.request("POST" if body is not None else "GET", path, json.dumps(body or {}).encode())
        return json.loads(conn.getresponse().read())

    def provider_orders(self) -> int:
        return int(self.provider("/__bench/stats")["orders"])

    # --- setup --------------------------------------------------------------------------
    def prepare(self) -> None:
        from django.core.management import call_command

        from bench import seed

        call_command("migrate", "--noinput", verbosity=0)
        seed.catalogue_seed()
        seeded = seed.vendors_seed(50)
        self.keys = [v.api_key for v in seeded]
        self.vendor_ids = [v.vendor_id for v in seeded]
        _say(f"seeded the catalogue and {len(self.keys)} funded vendors")

    def run(self) -> None:
        t0 = time.monotonic()
        self.start_fakes()
        self.django_setup()
        self.prepare()
        self.purge_queue()
        self.start_app()
        self.start_pools()
        self.start_beat()
        self.rows.append(request_limits(self))
        threading.Thread(target=self.supervisor, daemon=True).start()
        self.supervise.set()
        wanted = os.environ.get("CHAOS_SCENARIOS", ",".join(SCENARIOS)).split(",")
        first = True
        for name in SCENARIOS:
            if name in wanted:
                if not first:
                    self.fresh_worker_and_beat()
                first = False
                _say(f"scenario {name}")
                self.provider("/__bench/faults", {})
                self.quiesce()
                self.provider_before = self.provider_orders()
                restarts_before = dict(self.restarts)
                published_before = self.publish_log.stat().st_size
                epochs_before, started = self.epochs, time.monotonic()
                row = SCENARIOS[name](self)
                row.restarts = {
                    k: n - restarts_before.get(k, 0)
                    for k, n in self.restarts.items()
                    if n > restarts_before.get(k, 0)
                }
                queued_once_per_lease(
                    self,
                    row,
                    since=published_before,
                    # +1: the fresh workers' start marks may land after the first orders
                    epochs=self.epochs - epochs_before + 1,
                    seconds=time.monotonic() - started,
                )
                self.rows.append(row)
                _say(f"  -> {'ok' if not row.failures else 'FAILED: ' + '; '.join(row.failures)}")
        self.results["elapsed_seconds"] = round(time.monotonic() - t0, 1)

    def quiesce(self, timeout: float = 300) -> None:
        """Wait until no earlier order is still being worked on (paid, provisioning), so a
        scenario counts only its own provider orders and tasks: one that settled late
        already failed its own row and must not fail the next one too."""
        from orders.models import Order

        busy = ("paid", "provisioning")
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            _db()
            left = Order.objects.filter(status__in=busy).count()
            if not left:
                return
            _say(f"  waiting for {left} earlier orders to settle before starting")
            time.sleep(5.0)

    def finish_row(
        self,
        row: Row,
        tally: Tally,
        *,
        allowed: set[int],
        settle_within: float,
        all_completed: bool,
    ) -> Row:
        row.requests = tally.requests
        row.statuses = dict(sorted(tally.statuses.items()))
        row.orders = len(tally.created)
        bad = {s: n for s, n in tally.statuses.items() if s not in allowed}
        if bad:
            row.failures.append(f"answers outside {sorted(allowed)}: {bad}")
        row.settle_seconds = wait_final(tally.created, settle_within)
        if row.settle_seconds is None:
            row.failures.append(f"orders not final within {settle_within:.0f}s")
            _describe_open(tally.created)
        row.outcome = dict(statuses_of(tally.created))
        if all_completed and set(row.outcome) - {"completed"}:
            row.failures.append(f"not every order completed: {row.outcome}")
        row.failures.extend(ledger_problems(tally.created))
        # Each provider order serves at most one of ours (a unique constraint); what the
        # provider sold beyond the orders that hold one was bought twice (or lost).
        row.provider_orders = self.provider_orders() - self.provider_before
        row.bought_twice = row.provider_orders - held_provider_orders(tally.created)
        if row.bought_twice:
            row.failures.append(f"{row.bought_twice} provider orders beyond ours")
        return row


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def queued_once_per_lease(c: Chaos, row: Row, *, since: int, epochs: int, seconds: float) -> None:
    """Tasks queued per order and per webhook delivery during the scenario (every process's
    sends from the publish log; Celery's own retries, which follow an attempt, aside),
    against once per lease: 1 + the item's attempts (each attempt starts a new lease) + the
    scenario's queue epochs + the leases that ran out meanwhile."""
    from django.conf import settings

    from orders.models import Order
    from webhooks.models import WebhookDelivery

    kinds = {
        "fulfilment.tasks.order_provision": "order",
        "webhooks.tasks.delivery_send": "delivery",
    }
    counts: dict[str, Counter[int]] = {"order": Counter(), "delivery": Counter()}
    with c.publish_log.open("rb") as log:
        log.seek(since)
        for raw in log.read().splitlines():
            try:
                sent = json.loads(raw)
            except ValueError:
                continue
            kind = kinds.get(sent.get("task"))
            if kind and not sent.get("retries") and sent.get("args"):
                counts[kind][int(sent["args"][0])] += 1
    _db()
    attempts = {
        "order": dict(
            Order.objects.filter(pk__in=list(counts["order"])).values_list(
                "pk", "provisioning_attempts"
            )
        ),
        "delivery": dict(
            WebhookDelivery.objects.filter(pk__in=list(counts["delivery"])).values_list(
                "pk", "attempt_count"
            )
        ),
    }
    leases = {
        "order": int(seconds // settings.ORDERS_QUEUED_LEASE_SECONDS),
        "delivery": int(seconds // settings.WEBHOOKS_QUEUED_LEASE_SECONDS),
    }
    parts = []
    for kind, counted in counts.items():
        if not counted:
            continue
        row.queued_max = max(row.queued_max, *counted.values())
        over = {
            pk: n
            for pk, n in counted.items()
            if n > 1 + attempts[kind].get(pk, 0) + epochs + leases[kind]
        }
        parts.append(
            f"{sum(counted.values())} {kind} tasks for {len(counted)} "
            f"{'deliveries' if kind == 'delivery' else 'orders'} "
            f"(at most {max(counted.values())} for one)"
        )
        if over:
            pk, n = next(iter(over.items()))
            row.failures.append(
                f"{len(over)} {kind}s queued more than once per lease (e.g. {kind} {pk}: "
                f"{n} times, {attempts[kind].get(pk, 0)} attempts, {epochs} epochs)"
            )
    if parts:
        row.figures = "; ".join(p for p in [row.figures, "queued: " + ", ".join(parts)] if p)


def order_latencies(order_ids: list[int]) -> list[float]:
    """Seconds from each completed order's creation to its completion."""
    from orders.models import Order, OrderEvent

    _db()
    created = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "created_at"))
    done = OrderEvent.objects.filter(order_id__in=order_ids, to_status="completed")
    return sorted(
        (at - created[pk]).total_seconds() for pk, at in done.values_list("order_id", "created_at")
    )


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


class SlowReceiver:
    """A vendor's webhook endpoint of ours on loopback that answers 200 after `delay`
    seconds, many requests at once."""

    def __init__(self, delay: float) -> None:
        received: list[float] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                received.append(time.monotonic())
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender's timeout came first
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tenant_test_environment(vendor_id: int, *, endpoint_urls: list[str]) -> str:
    """The test environment of this vendor, with an API test key and webhook endpoints
    subscribed to everything; the raw test key."""
    from billing.play_money import vendor_test_environment_open
    from vendors.models import Vendor
    from vendors.services import api_key_issue
    from webhooks.services import endpoint_create

    _db()
    environment = vendor_test_environment_open(vendor=Vendor.objects.get(pk=vendor_id))
    for url in endpoint_urls:
        endpoint_create(vendor=environment, url=url, events=["*"])
    _, raw = api_key_issue(vendor=environment, name="chaos test key")
    return raw


# --- scenarios --------------------------------------------------------------------------


def request_limits(c: Chaos) -> Row:
    """Long URLs and headers a real client may send reach Django (the envelope), not
    gunicorn's own HTML refusals."""
    row = Row("0 long request line and headers")
    client = Client(c.ports["app"], {"Authorization": f"Api-Key {c.keys[0]}"})
    for path, headers in [
        ("/api/v1/vendor/orders/" + "9" * 6000, {}),
        ("/api/v1/vendor/balance", {"X-Trace": "t" * 12000}),
    ]:
        status, got, payload = client.request("GET", path, headers=headers)
        row.requests += 1
        row.statuses[status] = row.statuses.get(status, 0) + 1
        if "application/json" not in got.get("Content-Type", ""):
            row.failures.append(f"{status} answered by gunicorn, not the API: {payload[:60]!r}")
    return row


# The backlog a load leaves must drain: a liveness bound, not a speed target (on a quiet
# machine both settle in 1-2 s; on a shared 2-core one the worker drains 12-15 orders a
# second against the 25 offered). The settled seconds are the figure to watch.
LOAD_SETTLE_SECONDS = 90


def hot_vendor(c: Chaos) -> Row:
    tally = Tally()
    seconds = _env_int("CHAOS_SECONDS", 30)
    order_load(port=c.ports["app"], keys=c.keys[:1], clients=20, seconds=seconds, tally=tally)
    return c.finish_row(
        Row("1 hot vendor: 20 clients, 1 vendor"),
        tally,
        allowed={201, 402, 429},
        settle_within=LOAD_SETTLE_SECONDS,
        all_completed=True,
    )


def spread(c: Chaos) -> Row:
    tally = Tally()
    seconds = _env_int("CHAOS_SECONDS", 30)
    order_load(port=c.ports["app"], keys=c.keys, clients=32, seconds=seconds, tally=tally)
    return c.finish_row(
        Row("2 spread: 32 clients, 50 vendors"),
        tally,
        allowed={201, 402, 429},
        settle_within=LOAD_SETTLE_SECONDS,
        all_completed=True,
    )


def worker_killed(c: Chaos) -> Row:
    c.provider("/__bench/faults", {"latency": 0.3})
    tally = Tally()
    order_load(
        port=c.ports["app"],
        keys=c.keys,
        clients=8,
        seconds=12,
        tally=tally,
        events=[(3, c.kill_worker_children), (6, c.kill_worker_master), (8, c.restart_worker)],
    )
    c.provider("/__bench/faults", {})
    return c.finish_row(
        Row("3 worker killed (children, then master)"),
        tally,
        allowed={201, 402, 429},
        settle_within=120,
        all_completed=True,
    )


def redis_down(c: Chaos) -> Row:
    c.redis_durable()
    tally = Tally()
    order_load(
        port=c.ports["app"],
        keys=c.keys,
        clients=8,
        seconds=30,
        tally=tally,
        events=[(5, c.redis_kill), (25, c.redis_start)],
    )
    return c.finish_row(
        Row("4 Redis down 20 s"),
        tally,
        allowed={201, 402, 429, 503},
        settle_within=120,
        all_completed=True,
    )


def postgres_restart(c: Chaos) -> Row:
    tally = Tally()
    order_load(
        port=c.ports["app"],
        keys=c.keys,
        clients=8,
        seconds=20,
        tally=tally,
        events=[(5, c.pg_stop), (12, c.pg_start)],
    )
    return c.finish_row(
        Row("5 PostgreSQL restarted"),
        tally,
        allowed={201, 402, 429, 503},
        settle_within=120,
        all_completed=True,
    )


def provider_faults(c: Chaos) -> Row:
    c.provider(
        "/__bench/faults",
        {"error_rate": 0.15, "timeout_rate": 0.15, "timeout_seconds": READ_TIMEOUT + 1},
    )
    tally = Tally()
    order_load(
        port=c.ports["app"], keys=c.keys, clients=8, seconds=120, tally=tally, max_orders=200
    )
    row = Row("6 provider: 30 % errors and timeouts")
    c.finish_row(row, tally, allowed={201, 402, 429}, settle_within=300, all_completed=False)
    c.provider("/__bench/faults", {})
    if set(row.outcome) - {"completed", "failed"}:
        row.failures.append(f"orders neither completed nor failed: {row.outcome}")
    return row


def payment_events(c: Chaos) -> Row:
    """Each of the 24 orders of arrival of one payment's four events, for its own order."""
    row = Row("7 payment events, 24 orders of arrival")
    api = Client(c.ports["app"], {})
    email = f"chaos-{uuid.uuid4().hex[:8]}@example.com"
    password = "Chaos-pass-" + uuid.uuid4().hex[:8]
    api.request("POST", "/api/v1/auth/register", {"email": email, "password": password})
    _, _, token = api.request("POST", "/api/v1/auth/token", {"email": email, "password": password})
    customer = Client(c.ports["app"], {"Authorization": f"Bearer {json.loads(token)['access']}"})
    stripe = Client(c.ports["stripe"], {"Authorization": f"Bearer {c.env['STRIPE_SECRET_KEY']}"})
    tally = Tally()
    for arrival in itertools.permutations(("created", "failed", "succeeded", "refunded")):
        status, _, payload = customer.request(
            "POST",
            "/api/v1/orders",
            {"bundle_code": BUNDLE, "quantity": 1},
            {"Idempotency-Key": str(uuid.uuid4())},
        )
        tally.record(status, json.loads(payload)["id"] if status == 201 else None)
        if status != 201:
            continue
        order = json.loads(payload)
        pi = order["payment"]["payment_intent_id"]
        # What happened at Stripe: the card declined once, then paid, then refunded.
        stripe.request("POST", f"/__bench/succeed/{pi}", b"")
        stripe.request(
            "POST",
            "/v1/refunds",
            urlencode({"payment_intent": pi}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        for name in arrival:
            status, _, _ = api.request(
                "POST", "/api/v1/webhooks/stripe", *_signed(c, _stripe_event(name, pi))
            )
            tally.record(status)
    c.finish_row(row, tally, allowed={200, 201}, settle_within=60, all_completed=False)
    if row.outcome != {"refunded": len(tally.created)}:
        row.failures.append(f"every order should end refunded: {row.outcome}")
    problems = _payments_consistent(tally.created)
    row.failures.extend(problems)
    return row


def _stripe_event(name: str, pi: str) -> dict[str, Any]:
    intent = {"id": pi, "object": "payment_intent", "status": "requires_payment_method"}
    obj, type_ = {
        "created": (intent, "payment_intent.created"),
        "failed": ({**intent, "last_payment_error": {"code": "card_declined"}}, "payment_intent.payment_failed"),
        "succeeded": ({**intent, "status": "succeeded"}, "payment_intent.succeeded"),
        "refunded": ({"id": f"ch_{pi[3:]}", "object": "charge", "payment_intent": pi}, "charge.refunded"),
    }[name]  # fmt: skip
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "created": int(time.time()),
        "type": type_,
        "data": {"object": obj},
        "livemode": False,
    }


def _signed(c: Chaos, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(event).encode()
    t = int(time.time())
    secret = c.env["STRIPE_WEBHOOK_SECRET"].encode()
    digest = hmac.new(secret, f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, {"Stripe-Signature": f"t={t},v1={digest}"}


def _payments_consistent(order_ids: list[int]) -> list[str]:
    from django.db.models import F

    from fulfilment.models import Esim
    from orders.models import OrderEvent
    from payments.models import Payment
    from reconciliation.services import _delivered_against_payment

    _db()
    problems = []
    short = Payment.objects.filter(order_id__in=order_ids, refunded_amount__lt=F("amount"))
    if short.exists():
        problems.append(f"{short.count()} payments not refunded in full")
    # An order refunded before it was provisioned (straight from awaiting payment or from
    # provisioning) never got an eSIM; one refunded after delivery follows the refund rules.
    early = OrderEvent.objects.filter(
        order_id__in=order_ids,
        from_status__in=["awaiting_payment", "provisioning"],
        to_status="refunded",
    ).values("order_id")
    delivered = Esim.objects.filter(order_id__in=early).count()
    if delivered:
        problems.append(f"{delivered} eSIMs bought for orders refunded before provisioning")
    found = _delivered_against_payment(since=_an_hour_ago())
    if found:
        problems.append(f"reconciliation: {[f['code'] for f in found]}")
    return problems


def _an_hour_ago() -> Any:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(hours=1)


def _pools_ready(c: Chaos) -> None:
    try:
        c.pools_ready()
    except RuntimeError as exc:
        _say(f"  ({exc}; going on)")


def noisy_tenant(c: Chaos) -> Row:
    """Live orders of one vendor, first alone (the baseline), then while another vendor's
    test key orders and five of its test endpoints answer after 9.5 s: the test pool takes
    the noise, the live p95 from order to completed stays within twice the baseline."""
    row = Row("8 noisy test tenant: 5 slow test endpoints")
    live_key, rate, seconds = c.keys[-1], 4.0, 20
    _pools_ready(c)  # a baseline measured while a worker boots would flatter the noise
    warmup = Tally()
    order_load(port=c.ports["app"], keys=[live_key], clients=2, seconds=3, tally=warmup, rate=2)
    wait_final(warmup.created, 60)
    baseline = Tally()
    order_load(
        port=c.ports["app"], keys=[live_key], clients=4, seconds=seconds, tally=baseline, rate=rate
    )
    wait_final(baseline.created, 60)
    base_p95 = p95(order_latencies(baseline.created))

    receiver = SlowReceiver(9.5)
    test_key = tenant_test_environment(
        c.vendor_ids[-2], endpoint_urls=[f"{receiver.url}/{n}" for n in range(5)]
    )
    noisy, live = Tally(), Tally()
    tenant = threading.Thread(
        target=order_load,
        kwargs={
            "port": c.ports["app"], "keys": [test_key], "clients": 2, "seconds": seconds + 5,
            "tally": noisy, "rate": 1.0,
        },
        daemon=True,
    )  # fmt: skip
    tenant.start()
    time.sleep(5)  # the test pool is busy with slow deliveries before the live orders start
    order_load(
        port=c.ports["app"], keys=[live_key], clients=4, seconds=seconds, tally=live, rate=rate
    )
    tenant.join(timeout=seconds + 60)
    both = Tally()
    for t in (warmup, baseline, live):
        both.requests += t.requests
        both.statuses.update(t.statuses)
        both.created.extend(t.created)
    c.finish_row(row, both, allowed={201, 402, 429}, settle_within=60, all_completed=True)
    noisy_p95 = p95(order_latencies(live.created))
    # The test orders wait in the test queue behind their own slow deliveries: test mode's
    # own cost (a per-endpoint cap is what shortens it), reported, not waited for.
    test_outcome = statuses_of(noisy.created)
    slow_answers = len(receiver.received)
    receiver.close()
    ratio = noisy_p95 / base_p95 if base_p95 else float("inf")
    row.figures = (
        f"live p95 {base_p95:.2f}s alone, {noisy_p95:.2f}s beside the noisy tenant "
        f"({ratio:.2f}x; {len(baseline.created)} and {len(live.created)} orders); "
        f"test orders {len(noisy.created)} (at the end: {dict(test_outcome)}), "
        f"{slow_answers} slow deliveries answered during the scenario"
    )
    if not ratio <= 2.0:
        row.failures.append(f"live p95 {noisy_p95:.2f}s is over twice its baseline {base_p95:.2f}s")
    if set(test_outcome) - {"completed", "provisioning"}:
        row.failures.append(f"test orders neither completed nor waiting: {dict(test_outcome)}")
    if not noisy.created or not slow_answers:
        row.failures.append("the noisy tenant made no noise (no test order or no slow delivery)")
    return row


def redis_lost(c: Chaos) -> Row:
    """A burst of accepted orders while the provider is slow (a backlog in the queue), then
    Redis `shutdown nosave` with no append-only file: the queued tasks are gone. Redis
    comes back empty 5 s later; every order completes within 2 minutes of that."""
    from orders.models import Order

    row = Row("9 Redis shutdown nosave after a burst")
    cli = ["redis-cli", "-p", str(c.redis_port)]
    subprocess.run([*cli, "config", "set", "appendonly", "no"], check=True, capture_output=True)
    _pools_ready(c)
    c.provider("/__bench/faults", {"latency": 0.3})
    tally = Tally()
    order_load(port=c.ports["app"], keys=c.keys, clients=16, seconds=8, tally=tally, rate=40)
    _db()
    c.redis_shutdown_nosave()
    waiting = Order.objects.filter(pk__in=tally.created).exclude(status__in=FINAL).count()
    time.sleep(5)
    c.redis_start(durable=False)
    back = time.time()
    c.finish_row(row, tally, allowed={201, 402, 429, 503}, settle_within=150, all_completed=True)
    c.provider("/__bench/faults", {})
    from orders.models import OrderEvent

    _db()
    last = (
        OrderEvent.objects.filter(order_id__in=tally.created, to_status__in=FINAL)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    after = (last.timestamp() - back) if last is not None else float("nan")
    row.figures = (
        f"{len(tally.created)} orders accepted, {waiting} not final when Redis went; "
        f"all final {after:.1f}s after Redis returned"
    )
    if not after <= 120:
        row.failures.append(f"orders final {after:.1f}s after Redis returned (over 2 minutes)")
    return row


# --- failover: a second provider (Airalo) beside eSIM Go ----------------------------------

AIRALO_SECRET = "bench-airalo-secret"  # noqa: S105 (the loopback fake's)


def _airalo(c: Chaos, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", c.ports["airalo"], timeout=30)
    conn.request("POST" if body is not None else "GET", path, json.dumps(body or {}).encode())
    return json.loads(conn.getresponse().read())


def _faults(c: Chaos, faults: dict[str, Any]) -> None:
    """Set the eSIM Go fake's faults."""
    c.provider("/__bench/faults", faults)


def _failover_env(c: Chaos) -> dict[str, str]:
    """Live orders routed across eSIM Go and Airalo (both fakes); short breaker resets so
    a recovery is seen within the scenario."""
    return {
        "ESIM_PROVIDERS": "esimgo,airalo",
        "AIRALO_CLIENT_ID": "bench-airalo-client",
        "AIRALO_CLIENT_SECRET": AIRALO_SECRET,
        "AIRALO_BASE_URL": f"http://127.0.0.1:{c.ports['airalo']}/v2",
        "AIRALO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "AIRALO_RATE_LIMIT_PER_SECOND": "1000",
        "AIRALO_WEBHOOK_URL": "",
        "AIRALO_BREAKER_RESET_SECONDS": "15",
        "ESIMGO_BREAKER_RESET_SECONDS": "15",
    }


def _failover_setup(c: Chaos) -> dict[str, str | None]:
    """Start the Airalo fake, restart the app, workers and beat routing across both
    providers, and attach Airalo's packages to our products (the catalogue sync's offers
    step, through the real client). Returns the environment to put back."""
    from bench.procs import free_port, wait_http
    from catalogue.services import catalogue_offers_sync
    from providers.airalo import AiraloProvider
    from providers.tokens import TokenCache

    if "airalo" not in c.ports:
        c.ports["airalo"] = free_port()
        proc = c.procs.start(
            "fake-airalo",
            [sys.executable, "-m", "bench.fakes", "airalo", "--port", str(c.ports["airalo"])],
            env=c.env,
            cwd=ROOT,
        )
        wait_http(f"http://127.0.0.1:{c.ports['airalo']}/__bench/reset", proc=proc)
    _airalo(c, "/__bench/faults", {})
    extra = _failover_env(c)
    saved = {k: c.env.get(k) for k in extra}
    c.env.update(extra)
    client = AiraloProvider(
        client_id=extra["AIRALO_CLIENT_ID"],
        client_secret=AIRALO_SECRET,
        base_url=extra["AIRALO_BASE_URL"],
        token_cache=TokenCache(name="chaos-airalo", client=None, max_age=3600, margin=60),
    )
    synced = catalogue_offers_sync(provider=client)
    _say(f"  Airalo offers: {synced}")
    c.restart_app()
    c.fresh_worker_and_beat()
    return saved


def _failover_teardown(c: Chaos, saved: dict[str, str | None]) -> None:
    """Faults off, Airalo's offers withdrawn, the app and workers back on eSIM Go alone."""
    from catalogue.models import BundleOffer

    c.provider("/__bench/faults", {})
    _airalo(c, "/__bench/faults", {})
    _db()
    BundleOffer.objects.filter(provider="airalo").update(is_active=False)
    for k, v in saved.items():
        if v is None:
            c.env.pop(k, None)
        else:
            c.env[k] = v
    c.restart_app()
    c.fresh_worker_and_beat()


def _breaker_open(name: str) -> bool:
    import pybreaker

    from providers.resilience import build_breaker

    return build_breaker(name=name, fail_max=5, reset_timeout=15).current_state in (
        pybreaker.STATE_OPEN,
        pybreaker.STATE_HALF_OPEN,
    )


def _providers_of(order_ids: list[int]) -> Counter[str]:
    from orders.models import Order

    _db()
    return Counter(
        Order.objects.filter(pk__in=order_ids, status="completed").values_list(
            "provider", flat=True
        )
    )


def _airalo_or_trial(order_ids: list[int]) -> bool:
    """Every order completed, or waits after having been sent to eSIM Go (a trial)."""
    from orders.models import Order

    _db()
    rows = Order.objects.filter(pk__in=order_ids).values_list("status", "providers_sent")
    return all(status == "completed" or "esimgo" in (sent or []) for status, sent in rows)


def _wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def _both_fakes(c: Chaos) -> tuple[int, int, int]:
    """Orders sold by eSIM Go's fake and Airalo's, and our references Airalo sold more than
    once (its `description`, set when it sells: eSIM Go's tags are set after the sale and
    may be moved by an adoption, so its side is checked by the count)."""
    esimgo, airalo = c.provider("/__bench/stats"), _airalo(c, "/__bench/stats")
    twice = sum(1 for n in airalo["by_description"].values() if n > 1)
    return int(esimgo["orders"]), int(airalo["orders"]), twice


def failover(c: Chaos) -> Row:
    """Two providers for one product (eSIM Go cheaper, Airalo's equivalent package 10 %
    dearer): (a) eSIM Go's fake answers 503 to everything: once our breaker for it is
    open, orders complete through Airalo; (b) both answer 503: orders wait (none final),
    then both recover and every order completes; (c) 200 orders with random errors,
    timeouts (after acting) and Airalo's refusals (maintenance, out of stock) on both: no
    reference bought twice at either, the provider orders at both fakes are exactly
    those our orders hold, and the ledger balances."""
    row = Row("failover: eSIM Go + Airalo")
    saved = _failover_setup(c)
    try:
        esimgo_before, airalo_before, _ = _both_fakes(c)
        port, keys = c.ports["app"], c.keys
        # (a) eSIM Go down.
        c.provider("/__bench/faults", {"error_rate": 1, "error_status": 503})
        openers = Tally()
        order_load(port=port, keys=keys, clients=2, seconds=6, tally=openers, rate=1)
        if not _wait_until(lambda: _breaker_open("esimgo"), 60):
            row.failures.append("(a) the eSIM Go breaker never opened on 503s")
        down = Tally()
        order_load(port=port, keys=keys, clients=4, seconds=4, tally=down, rate=5)
        # Each is delivered by Airalo, except one that happened to be the breaker's
        # half-open trial: sent to eSIM Go (which may have bought), it waits for eSIM Go.
        a_seconds = None
        start = time.monotonic()
        if _wait_until(lambda: _airalo_or_trial(down.created), 60):
            a_seconds = round(time.monotonic() - start, 1)
        a_providers = _providers_of(down.created)
        trials = len(down.created) - a_providers["airalo"]
        if a_seconds is None or not a_providers["airalo"] or set(a_providers) != {"airalo"}:
            row.failures.append(
                f"(a) with eSIM Go down, orders did not complete through Airalo: "
                f"{dict(statuses_of(down.created))}, {dict(a_providers)}"
            )
        # (b) both down: orders wait, then complete after recovery.
        _airalo(c, "/__bench/faults", {"error_rate": 1, "error_status": 503})
        both = Tally()
        order_load(port=port, keys=keys, clients=4, seconds=4, tally=both, rate=5)
        time.sleep(10)
        early = statuses_of(both.created)
        if set(early) - {"provisioning", "paid"}:
            row.failures.append(f"(b) with both down, orders did not wait: {dict(early)}")
        c.provider("/__bench/faults", {})
        _airalo(c, "/__bench/faults", {})
        recovered_at = time.monotonic()
        waiting = [*openers.created, *down.created, *both.created]
        b_seconds = wait_final(waiting, 120)
        if b_seconds is None:
            _describe_open(waiting)
        b_outcome = statuses_of(waiting)
        if b_seconds is None or set(b_outcome) != {"completed"}:
            row.failures.append(f"(b) after recovery not every order completed: {dict(b_outcome)}")
        b_after = time.monotonic() - recovered_at
        # (c) random faults on both, 200 orders.
        timeout = READ_TIMEOUT + 1
        c.provider(
            "/__bench/faults",
            {"error_rate": 0.15, "timeout_rate": 0.1, "timeout_seconds": timeout},
        )
        _airalo(
            c,
            "/__bench/faults",
            {
                "error_rate": 0.15,
                "timeout_rate": 0.1,
                "timeout_seconds": timeout,
                "maintenance_rate": 0.05,
                "out_of_stock_rate": 0.05,
            },
        )
        mixed = Tally()
        random_faults = {"error_rate": 0.15, "timeout_rate": 0.1, "timeout_seconds": timeout}
        # Scattered faults alone never open a breaker (it counts failures in a row): eSIM
        # Go is also down for a while in the middle, so orders move across and back.
        order_load(
            port=port,
            keys=keys,
            clients=8,
            seconds=60,
            tally=mixed,
            max_orders=200,
            rate=12,
            events=[
                (3.0, lambda: _faults(c, {"error_rate": 1, "error_status": 503})),
                (11.0, lambda: _faults(c, random_faults)),
            ],
        )
        c.provider("/__bench/faults", {})
        _airalo(c, "/__bench/faults", {})
        tally = Tally()
        for t in (openers, down, both, mixed):
            tally.requests += t.requests
            tally.statuses.update(t.statuses)
            tally.created.extend(t.created)
        row.requests, row.orders = tally.requests, len(tally.created)
        row.statuses = dict(sorted(tally.statuses.items()))
        bad = {s: n for s, n in tally.statuses.items() if s not in {201, 402, 429}}
        if bad:
            row.failures.append(f"answers outside [201, 402, 429]: {bad}")
        row.settle_seconds = wait_final(tally.created, 120)
        if row.settle_seconds is None:
            row.failures.append("orders not final within 120s")
            _describe_open(tally.created)
        row.outcome = dict(statuses_of(tally.created))
        if set(row.outcome) - {"completed", "failed"}:
            row.failures.append(f"orders neither completed nor failed: {row.outcome}")
        row.failures.extend(ledger_problems(tally.created))
        esimgo_after, airalo_after, twice = _both_fakes(c)
        sold = (esimgo_after - esimgo_before) + (airalo_after - airalo_before)
        row.provider_orders = sold
        row.bought_twice = sold - held_provider_orders(tally.created)
        if row.bought_twice or twice:
            row.failures.append(
                f"{row.bought_twice} provider orders beyond ours; {twice} references bought "
                "twice at Airalo"
            )
        c_providers = _providers_of(mixed.created)
        row.figures = (
            f"(a) {a_providers['airalo']} of {len(down.created)} orders with eSIM Go at 503 "
            f"completed through Airalo in {a_seconds}s ({trials} half-open trials waited); (b) {len(waiting)} waiting "
            f"orders all final {b_after:.1f}s after both recovered; (c) "
            f"{len(mixed.created)} orders under faults: {dict(c_providers)} completed per "
            f"provider; provider orders eSIM Go {esimgo_after - esimgo_before}, Airalo "
            f"{airalo_after - airalo_before}"
        )
        if not c_providers.get("airalo") or not c_providers.get("esimgo"):
            row.failures.append(f"(c) the faults never moved orders across: {dict(c_providers)}")
    finally:
        _failover_teardown(c, saved)
    return row


STOCKED_BUNDLE = "esim_1GB_7D_FR_V2"
STOCK_SIZE = 50


def stock_outage(c: Chaos) -> Row:
    """Ready stock through an upstream outage: STOCK_SIZE eSIMs of one bundle bought for
    stock, then eSIM Go answers 503 to everything for 60 s while clients order the stocked
    bundle and an unstocked one. Stocked orders are answered `201 completed` with their
    eSIM throughout (counted); unstocked ones are accepted (201 provisioning), wait, and
    complete after the provider is back. No provider order is bought twice (the
    provider's count is our orders' plus the stock batches'), and the ledger, with
    inventory against the stock on hand, is clean."""
    from django.utils import timezone

    from catalogue.models import Bundle
    from fulfilment.stock.models import StockBatch, StockEsim, StockSetting
    from fulfilment.stock.refill import stock_refill_run
    from reconciliation.services import check_ledger

    row = Row("10 stock: provider 503 for 60 s")
    started_at = timezone.now()
    _db()
    # Floor 1: the beat's refill leaves this stock alone unless it runs out.
    setting, _ = StockSetting.objects.update_or_create(
        bundle=Bundle.objects.get(code=STOCKED_BUNDLE),
        livemode=True,
        defaults={"enabled": True, "floor": 1, "target": STOCK_SIZE, "capital_cap": 10**9},
    )
    filled = time.monotonic()
    report = stock_refill_run(bundle_code=STOCKED_BUNDLE, requested_by="chaos")
    in_stock = StockEsim.objects.filter(
        bundle_code=STOCKED_BUNDLE, livemode=True, status=StockEsim.Status.AVAILABLE
    ).count()
    _say(f"  {report.bought} eSIMs bought for stock in {time.monotonic() - filled:.1f}s")
    if in_stock < STOCK_SIZE:
        row.failures.append(f"stock filled to {in_stock}, not {STOCK_SIZE}: {report}")

    outage = 60.0
    c.provider("/__bench/faults", {"unavailable_seconds": outage})
    outage_end = time.monotonic() + outage
    lock = threading.Lock()
    answers: dict[str, Counter[str]] = {"stocked": Counter(), "unstocked": Counter()}
    created: dict[str, list[int]] = {"stocked": [], "unstocked": []}

    def place(kind: str, bundle: str, n: int, every: float) -> None:
        client = Client(c.ports["app"], {"Authorization": f"Api-Key {c.keys[n % len(c.keys)]}"})
        next_at = time.monotonic() + every * n / 4
        while time.monotonic() < outage_end - 5:  # every order placed inside the outage
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += every
            key = str(uuid.uuid4())
            for _ in range(30):
                status, headers, payload = client.request(
                    "POST",
                    "/api/v1/vendor/orders",
                    {"bundle_code": bundle, "quantity": 1},
                    {"Idempotency-Key": key},
                )
                if status not in (0, 503):
                    break
                time.sleep(min(float(headers.get("Retry-After", "1")), 2.0))
            body = json.loads(payload) if status == 201 else {}
            with lock:
                answers[kind][f"{status} {body.get('status', '')}".strip()] += 1
                if status == 201:
                    created[kind].append(int(body["id"]))

    # Two clients per bundle, one order every 2.5 s each: about 44 stocked orders in the
    # outage, within the stock of 50 (all of them must come from it).
    threads = [
        threading.Thread(target=place, args=(kind, bundle, n, 2.5), daemon=True)
        for kind, bundle in (("stocked", STOCKED_BUNDLE), ("unstocked", BUNDLE))
        for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=outage + 60)
    during = statuses_of(created["unstocked"])
    time.sleep(max(0.0, outage_end - time.monotonic()))
    recovered = time.monotonic()
    _say("  provider back")

    ids = created["stocked"] + created["unstocked"]
    row.requests = sum(sum(a.values()) for a in answers.values())
    row.orders = len(ids)
    stocked_at_once = answers["stocked"]["201 completed"]
    if stocked_at_once != len(created["stocked"]) or not stocked_at_once:
        row.failures.append(f"stocked orders not all completed in their 201: {answers['stocked']}")
    if set(answers["unstocked"]) - {"201 provisioning"}:
        row.failures.append(f"unstocked answers besides 201 provisioning: {answers['unstocked']}")
    if during.get("completed"):
        row.failures.append(f"{during['completed']} unstocked orders completed with no provider")
    row.settle_seconds = wait_final(created["unstocked"], 120)
    if row.settle_seconds is None:
        row.failures.append("unstocked orders not final within 120 s of the provider's return")
        _describe_open(created["unstocked"])
    settled = time.monotonic()
    row.outcome = dict(statuses_of(ids))
    if set(row.outcome) - {"completed"}:
        row.failures.append(f"not every order completed: {row.outcome}")
    row.failures.extend(ledger_problems(ids))
    row.failures.extend(f"{f['code']}: {f['message']}" for f in check_ledger(since=started_at))
    # What the provider sold since the start: the unstocked orders' orders and the stock
    # batches' (the fill, and any refill the beat made), each once.
    _db()
    batches = (
        StockBatch.objects.filter(created_at__gte=started_at)
        .exclude(provider_reference="")
        .values("provider_reference")
        .distinct()
        .count()
    )
    row.provider_orders = c.provider_orders() - c.provider_before
    row.bought_twice = row.provider_orders - held_provider_orders(ids) - batches
    if row.bought_twice:
        row.failures.append(f"{row.bought_twice} provider orders beyond ours")
    left = StockEsim.objects.filter(
        bundle_code=STOCKED_BUNDLE, livemode=True, status=StockEsim.Status.AVAILABLE
    ).count()
    statuses: Counter[int] = Counter()
    for answered in answers.values():
        for key, n in answered.items():
            statuses[int(key.split()[0])] += n
    row.statuses = dict(sorted(statuses.items()))
    row.figures = (
        f"{stocked_at_once} stocked orders completed in their 201 during the 60 s outage "
        f"({len(created['unstocked'])} unstocked queued; final "
        f"{settled - recovered:.1f}s after the provider returned); stock {in_stock} -> {left}"
    )
    # Leave the platform as the other scenarios expect it: nothing stocked.
    setting.enabled = False
    setting.save(update_fields=["enabled", "updated_at"])
    return row


SCENARIOS: dict[str, Callable[[Chaos], Row]] = {
    "hot": hot_vendor,
    "spread": spread,
    "worker_killed": worker_killed,
    "redis_down": redis_down,
    "postgres_restart": postgres_restart,
    "provider_faults": provider_faults,
    "payment_events": payment_events,
    "noisy_tenant": noisy_tenant,
    "redis_lost": redis_lost,
    "failover": failover,
    "stock_outage": stock_outage,
}


def print_table(rows: list[Row]) -> None:
    print("\nchaos figures")
    print(
        f"  {'scenario':42} {'requests':>8} {'orders':>6} {'settled s':>9} "
        f"{'prov.':>5} {'twice':>5} {'q/item':>6}  answers / outcome / result"
    )
    for r in rows:
        settled = "-" if r.settle_seconds is None else f"{r.settle_seconds:.1f}"
        answers = " ".join(f"{s}:{n}" for s, n in r.statuses.items())
        outcome = " ".join(f"{s}:{n}" for s, n in sorted(r.outcome.items()))
        result = "ok" if not r.failures else "FAILED"
        if r.restarts:
            result += (
                " (supervisor restarted "
                + ", ".join(f"{k} x{n}" for k, n in r.restarts.items())
                + ")"
            )
        print(
            f"  {r.scenario:42} {r.requests:>8} {r.orders:>6} {settled:>9} "
            f"{r.provider_orders:>5} {r.bought_twice:>5} {r.queued_max:>6}  "
            f"{answers} / {outcome} / {result}"
        )
    for r in rows:
        if r.figures:
            print(f"  {r.scenario}: {r.figures}")
    failed = [r for r in rows if r.failures]
    for r in failed:
        for f in r.failures:
            print(f"  FAILED {r.scenario}: {f}")
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")


def _on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGALRM, _on_term)
    signal.alarm(TIME_LIMIT_SECONDS)
    chaos = Chaos()
    try:
        chaos.run()
    except KeyboardInterrupt as exc:
        print(f"chaos: interrupted ({exc}); stopping everything", file=sys.stderr)
        return 130
    finally:
        chaos.supervise.clear()  # nothing is restarted while everything stops
        time.sleep(1.5)
        chaos.close()
        print_table(chaos.rows)
    return 1 if any(r.failures for r in chaos.rows) or not chaos.rows else 0


if __name__ == "__main__":
    sys.exit(main())
