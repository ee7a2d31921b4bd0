"""The sandbox provider: a deterministic eSIM Go stand-in for local runs, demos and tests.

State: simulated orders, eSIMs and bundle assignments live in the database (`Sandbox*`
models), so the web process and a Celery worker see the same eSIMs on SQLite and
PostgreSQL; a cache would evict and process memory is not shared.

Faults: `SandboxFaults` is read from the default cache on every call (key
`esims:sandbox:faults`), so a test, the admin shell or a demo can switch them at runtime for
every process that shares the cache: `sandbox_faults_set(SandboxFaults(error_rate=0.3,
seed=7))`. Random draws come from `random.Random(f"{seed}:{n}")` with `n` a shared counter,
so a given seed produces the same sequence of failures run after run.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from catalogue.models import Bundle
from providers.base import (
    BYTES_PER_MB,
    BundleUsage,
    EsimDetails,
    EsimInstall,
    Provider,
    ProviderBundle,
    ProviderCountry,
    ProviderNotFound,
    ProviderOrder,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TopupResult,
)
from sandbox.catalogue import build_catalogue
from sandbox.models import (
    SandboxBundleAssignment,
    SandboxEsim,
    SandboxOrder,
    SandboxScriptedFailure,
)
from ttelgo.money import Money

FAULTS_CACHE_KEY = "esims:sandbox:faults"
COUNTER_CACHE_KEY = "esims:sandbox:draws"
SMDP_ADDRESSES = ("rsp.sandbox-smdp.ttelgo.net", "rsp-eu.sandbox-smdp.ttelgo.net")
ICCID_PREFIX = "8944500"  # 89 telecom, 44 country code, 500 issuer: 7 of the 18 body digits
MAX_BUNDLES_PER_ORDER = 10
ASYNC_ORDER_THRESHOLD = 5  # like eSIM Go: bigger orders are processed asynchronously
# Like eSIM Go, an unused bundle is refunded to the balance only this long after purchase.
REFUND_WINDOW_DAYS = 60
# eSIMs bought for our ready stock carry their batch's reference (fulfilment/stock/refill.py).
STOCK_REF_PREFIX = "ttelgo-stock-"


@dataclass(frozen=True)
class SandboxFaults:
    """Fault injection. `mode` forces one failure on every call: "429", "503", "timeout",
    or "processing" (orders are accepted but complete only after `processing_seconds`).
    `error_rate` (0..1) fails that share of calls with a 503; `latency` sleeps seconds."""

    error_rate: float = 0.0
    latency: float = 0.0
    mode: str = ""
    seed: int = 0
    processing_seconds: int = 30
    retry_after: int = 1

    MODES = ("", "429", "503", "timeout", "processing")

    def __post_init__(self) -> None:
        if self.mode not in self.MODES:
            raise ValueError(f"unknown sandbox fault mode {self.mode!r}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")


def sandbox_faults_set(faults: SandboxFaults) -> None:
    cache.set(FAULTS_CACHE_KEY, asdict(faults), timeout=None)
    cache.set(COUNTER_CACHE_KEY, 0, timeout=None)


def sandbox_faults_get() -> SandboxFaults:
    raw = cache.get(FAULTS_CACHE_KEY)
    return SandboxFaults(**raw) if raw else SandboxFaults()


def sandbox_faults_reset() -> None:
    cache.delete_many([FAULTS_CACHE_KEY, COUNTER_CACHE_KEY])


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # the digit next to the check digit is doubled
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[-n:].zfill(n)


def make_iccid(seed: str) -> str:
    body = ICCID_PREFIX + _digits(seed, 18 - len(ICCID_PREFIX))
    return body + luhn_check_digit(body)


def make_matching_id(seed: str) -> str:
    h = hashlib.sha256(("mid:" + seed).encode()).hexdigest().upper()
    return f"{h[:5]}-{h[5:10]}-{h[10:15]}-{h[15:20]}"


class SandboxProvider(Provider):
    name = "sandbox"

    def __init__(self, *, currency: str = "USD", faults: SandboxFaults | None = None) -> None:
        self.currency = currency
        self._faults = faults  # fixed faults for this instance; else read from the cache
        self._catalogue = {b.code: b for b in build_catalogue(currency)}

    # --- faults -------------------------------------------------------------------------
    def faults(self) -> SandboxFaults:
        return self._faults or sandbox_faults_get()

    def _draw(self, faults: SandboxFaults) -> float:
        try:
            n = cache.incr(COUNTER_CACHE_KEY)
        except ValueError:
            cache.set(COUNTER_CACHE_KEY, 1, timeout=None)
            n = 1
        return random.Random(f"{faults.seed}:{n}").random()

    def _before_call(self) -> SandboxFaults:
        faults = self.faults()
        if faults.latency:
            time.sleep(faults.latency)
        if faults.mode == "429":
            raise ProviderRateLimited(
                "sandbox: rate limited", status=429, retry_after=faults.retry_after
            )
        if faults.mode == "503":
            raise ProviderUnavailable(
                "sandbox: unavailable", status=503, retry_after=faults.retry_after
            )
        if faults.mode == "timeout":
            raise ProviderTimeout("sandbox: read timed out")
        if faults.error_rate and self._draw(faults) < faults.error_rate:
            raise ProviderUnavailable("sandbox: injected failure", status=503)
        return faults

    # --- catalogue ----------------------------------------------------------------------
    def list_bundles(self) -> list[ProviderBundle]:
        self._before_call()
        return list(self._catalogue.values())

    def _bundle(self, code: str) -> ProviderBundle:
        if code in self._catalogue:
            return self._catalogue[code]
        # Test mode simulates whatever the live catalogue sells (eSIM Go's bundles too).
        row = Bundle.objects.filter(code=code).prefetch_related("countries__region").first()
        if row is None:
            raise ProviderRejected(f"Bundle {code} not found", status=400)
        return ProviderBundle(
            code=row.code,
            description=row.provider_description or row.code,
            countries=tuple(
                ProviderCountry(c.iso, c.name, c.region.name if c.region else "")
                for c in row.countries.all()
            ),
            data_mb=row.data_mb,
            unlimited=row.unlimited,
            validity_days=row.validity_days,
            cost=Money(row.cost_amount, row.currency),
        )

    # --- orders -------------------------------------------------------------------------
    def create_order(self, *, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
        faults = self._before_call()
        bundle = self._bundle(bundle_code)
        if not 1 <= quantity <= MAX_BUNDLES_PER_ORDER:
            raise ProviderRejected("quantity must be 1-10", status=400)
        if SandboxScriptedFailure.objects.filter(client_reference=reference).exists():
            raise ProviderRejected("Simulated provisioning failure (test mode)", status=400)
        now = timezone.now()
        delay = (
            faults.processing_seconds
            if faults.mode == "processing" or quantity > ASYNC_ORDER_THRESHOLD
            else 0
        )
        # Like the real provider, every call is a new order (no server-side dedup); callers
        # use find_order(reference) before re-ordering.
        with transaction.atomic():
            order = SandboxOrder.objects.create(
                reference=f"sbx-{uuid.uuid4().hex[:16]}",
                client_reference=reference,
                bundle_code=bundle_code,
                quantity=quantity,
                cost_amount=bundle.cost.amount * quantity,
                currency=bundle.cost.currency,
                ready_at=now + timedelta(seconds=delay),
            )
            for i in range(quantity):
                seed = f"{order.reference}:{i}"
                esim = SandboxEsim.objects.create(
                    iccid=make_iccid(seed),
                    order=order,
                    matching_id=make_matching_id(seed),
                    smdp_address=SMDP_ADDRESSES[i % len(SMDP_ADDRESSES)],
                    customer_ref=reference,
                )
                # The bundle is applied when the order completes.
                self._assign(esim=esim, order=order, bundle=bundle, at=order.ready_at)
        return self._to_order(order)

    def _assign(
        self, *, esim: SandboxEsim, order: SandboxOrder, bundle: ProviderBundle, at: datetime
    ) -> None:
        SandboxBundleAssignment.objects.create(
            esim=esim,
            order=order,
            bundle_code=bundle.code,
            initial_bytes=bundle.data_mb * BYTES_PER_MB,
            unlimited=bundle.unlimited,
            validity_days=bundle.validity_days,
            assigned_at=at,
        )

    def _to_order(self, order: SandboxOrder) -> ProviderOrder:
        ready = timezone.now() >= order.ready_at
        esims = [EsimInstall(e.iccid, e.matching_id, e.smdp_address) for e in order.esims.all()]
        return ProviderOrder(
            reference=order.reference,
            status=ProviderOrder.STATUS_COMPLETED if ready else ProviderOrder.STATUS_PROCESSING,
            bundle_code=order.bundle_code,
            quantity=order.quantity,
            esims=esims if ready else [],
            total=Money(order.cost_amount, order.currency),
            client_reference=order.client_reference,
            created_at=order.created_at,
        )

    def find_order(
        self,
        reference: str,
        *,
        since: datetime | None = None,
        bundle_code: str | None = None,
        quantity: int | None = None,
        adoptable: Callable[[str], bool] | None = None,
    ) -> ProviderOrder | None:
        self._before_call()
        order = (
            SandboxOrder.objects.filter(client_reference=reference, kind="order")
            .order_by("id")
            .first()
        )
        return self._to_order(order) if order else None

    def get_order(self, provider_reference: str) -> ProviderOrder:
        self._before_call()
        return self._to_order(self._order(provider_reference))

    def _order(self, provider_reference: str) -> SandboxOrder:
        try:
            return SandboxOrder.objects.get(reference=provider_reference)
        except SandboxOrder.DoesNotExist:
            raise ProviderNotFound(f"Order {provider_reference} not found", status=404) from None

    def list_orders(
        self, *, created_from: datetime, created_to: datetime | None = None
    ) -> list[ProviderOrder]:
        self._before_call()
        qs = SandboxOrder.objects.filter(created_at__gte=created_from, kind="order")
        if created_to is not None:
            qs = qs.filter(created_at__lte=created_to)
        return [self._to_order(o) for o in qs.prefetch_related("esims")]

    # --- eSIMs --------------------------------------------------------------------------
    def tag_esim(self, *, iccid: str, reference: str) -> None:
        self._before_call()
        esim = self._esim(iccid)
        if esim.customer_ref != reference:
            SandboxEsim.objects.filter(pk=esim.pk).update(customer_ref=reference)

    def _esim(self, iccid: str) -> SandboxEsim:
        try:
            return SandboxEsim.objects.select_related("order").get(iccid=iccid)
        except SandboxEsim.DoesNotExist:
            raise ProviderNotFound(f"eSIM {iccid} not found", status=404) from None

    def bundle_compatible(self, *, iccid: str, bundle_code: str) -> bool:
        """The simulator's rule: a bundle fits an eSIM when it covers at least one country
        of the bundle the eSIM was bought with."""
        self._before_call()
        esim = self._esim(iccid)
        first = esim.assignments.order_by("id").first()
        wanted = {c.iso for c in self._bundle(bundle_code).countries}
        if first is None or first.bundle_code not in self._catalogue:
            return True
        return bool(wanted & {c.iso for c in self._catalogue[first.bundle_code].countries})

    def get_esim(self, iccid: str) -> EsimDetails:
        self._before_call()
        esim = self._esim(iccid)
        installed = self._first_use(esim)
        return EsimDetails(
            iccid=esim.iccid,
            matching_id=esim.matching_id,
            smdp_address=esim.smdp_address,
            profile_status="Installed" if installed else "Released",
            customer_ref=esim.customer_ref,
            first_installed_at=installed,
        )

    @staticmethod
    def _first_use(esim: SandboxEsim) -> datetime | None:
        # The traveller installs the profile an hour after purchase.
        first = esim.order.created_at + timedelta(hours=1)
        return first if timezone.now() >= first else None

    def get_usage(self, iccid: str) -> list[BundleUsage]:
        self._before_call()
        esim = self._esim(iccid)
        now = timezone.now()
        return [self._usage(esim.iccid, a, now) for a in esim.assignments.all()]

    @staticmethod
    def _usage(iccid: str, a: SandboxBundleAssignment, now: datetime) -> BundleUsage:
        """eSIM Go's bundle states: `processing` until the order completes, `queued` from
        the assignment until first use (refundable), then `active` until it runs out
        (`depleted`) or its time does (`expired`). The traveller starts an hour after the
        assignment, or when a simulation says so; usage then grows linearly at a per-eSIM
        pace between 40% and 130% of the bundle over its validity, so some run out and
        some expire."""
        started = a.assigned_at + timedelta(hours=1)
        lifetime = timedelta(days=a.validity_days)
        expires_at = started + lifetime if now >= started and not a.revoked else None
        if a.revoked:
            state, remaining = "revoked", a.initial_bytes
        else:
            elapsed = max(timedelta(0), now - started)
            pace = 40 + int(hashlib.sha256(f"{iccid}:{a.id}".encode()).hexdigest(), 16) % 91
            span = lifetime.total_seconds()
            used_share = min(1.0, elapsed.total_seconds() / span * pace / 100) if span else 1.0
            quota = a.initial_bytes if not a.unlimited else 0
            remaining = quota - int(quota * used_share)
            if now < started:
                state = "queued" if now >= a.assigned_at else "processing"
            elif elapsed >= lifetime:
                state = "expired"
            elif not a.unlimited and remaining <= 0:
                state = "depleted"
            else:
                state = "active"
        if not a.revoked and a.simulated_used_permille is not None:
            quota = a.initial_bytes if not a.unlimited else 0
            remaining = quota - quota * min(a.simulated_used_permille, 1000) // 1000
            state = "depleted" if quota and remaining <= 0 else "active"
            expires_at = expires_at or a.assigned_at + timedelta(days=a.validity_days)
        if not a.revoked and a.simulated_state:
            state = a.simulated_state
        return BundleUsage(
            bundle_code=a.bundle_code,
            initial_bytes=a.initial_bytes,
            remaining_bytes=max(0, remaining),
            unlimited=a.unlimited,
            state=state,
            assigned_at=a.assigned_at,
            reference=a.order.reference,
            expires_at=expires_at,
        )

    def apply_topup(self, *, iccid: str, bundle_code: str, reference: str) -> TopupResult:
        self._before_call()
        bundle = self._bundle(bundle_code)
        with transaction.atomic():
            esim = self._esim(iccid)
            now = timezone.now()
            order = SandboxOrder.objects.create(
                reference=f"sbx-{uuid.uuid4().hex[:16]}",
                client_reference=reference,
                bundle_code=bundle_code,
                quantity=1,
                cost_amount=bundle.cost.amount,
                currency=bundle.cost.currency,
                kind="topup",
                ready_at=now,
            )
            self._assign(esim=esim, order=order, bundle=bundle, at=now)
        return TopupResult(order.reference, iccid, bundle_code, "completed", bundle.cost)

    def revoke_bundle(self, *, iccid: str, bundle_code: str) -> None:
        self._before_call()
        esim = self._esim(iccid)
        now = timezone.now()
        assignment = esim.assignments.filter(bundle_code=bundle_code, revoked=False).last()
        if assignment is None:
            raise ProviderNotFound(f"Bundle {bundle_code} is not on {iccid}", status=404)
        if now >= assignment.assigned_at + timedelta(days=REFUND_WINDOW_DAYS):
            raise ProviderRejected("The refund window of this bundle has closed", status=400)
        if _started(assignment, now, held=esim.customer_ref.startswith(STOCK_REF_PREFIX)):
            # first use starts it: no longer refundable
            raise ProviderRejected(
                "Bundle already started; it can no longer be refunded", status=400
            )
        assignment.revoked = True
        assignment.save(update_fields=["revoked"])


def _started(a: SandboxBundleAssignment, now: datetime, *, held: bool = False) -> bool:
    """Whether the traveller started the bundle: an hour after its assignment, or earlier
    when a simulation used it (first use, usage, expiry). An eSIM still held in our
    ready stock (`held`: tagged with a stock batch's reference) has no traveller: only a
    simulation starts it."""
    simulated = a.simulated_used_permille is not None or bool(a.simulated_state)
    return simulated or (not held and now >= a.assigned_at + timedelta(hours=1))
