"""eSIM Go API v2.4 client: the only module that knows eSIM Go's URLs and field names.

Transport: one `requests.Session` per client, (connect, read) timeouts on every call;
tenacity retries timeouts, connection errors, 429 (waiting what `Retry-After` asks, capped)
and 5xx with exponential backoff and jitter; a pybreaker circuit breaker wraps each logical
call (all its retries) so a provider that is down is not hammered. The breaker's state lives
in Redis when `settings.REDIS_URL` is set, so every web and worker process shares it;
without Redis it is shared by the clients of one process.

Order references: eSIM Go has no client-side reference field on orders. After a
successful order we store our reference on each new eSIM with `PUT /esims {iccid,
customerRef}`. `find_order(reference)` lists the orders created in a window (default the
last 24 h) with their ICCIDs, and returns the one whose eSIM carries our customerRef. If the
process died between the order and the tagging, no eSIM carries it; then, when the caller
passes `bundle_code` and `quantity`, the single untagged order in the window with that
bundle and quantity is taken as ours and tagged (more than one candidate returns None and
the caller escalates instead of guessing).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pybreaker
import requests
from django.conf import settings
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ttelgo.metrics import PROVIDER_CALLS
from ttelgo.money import Money, exponent

from .base import (
    BundleUsage,
    CircuitOpen,
    EsimDetails,
    EsimInstall,
    OrderItem,
    Provider,
    ProviderAuthError,
    ProviderBundle,
    ProviderCountry,
    ProviderError,
    ProviderNotFound,
    ProviderOrder,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TopupResult,
)
from .ratelimit import RateLimiter, shared_limiter
from .resilience import (
    build_breaker,
    call_outcome_record,
    is_system_failure,
    retry_after_seconds,
    shared_breaker,
)

__all__ = ["EsimGoProvider", "build_breaker", "shared_breaker"]

logger = logging.getLogger(__name__)

CATALOGUE_PAGE_SIZE = 100
CLOCK_SKEW = timedelta(minutes=1)  # ours against the provider's, when searching by time
MAX_PAGES = 500  # a runaway paging loop is a bug upstream, not a bigger catalogue
MAX_RETRY_AFTER = 30.0  # never sleep longer than this inside a request
RATE_LIMIT_MAX_WAIT = 10.0  # longer than this for a call slot: a transient, retryable error


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# Path segments that carry an id (ICCIDs, bundle names, references): one series per
# operation, not per eSIM.
_OPERATION_ID = re.compile(r"/[^/]*\d[^/]*")


class EsimGoProvider(Provider):
    name = "esimgo"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        currency: str | None = None,
        timeout: tuple[float, float] | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        breaker: pybreaker.CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.api_key = settings.ESIMGO_API_KEY if api_key is None else api_key
        self.base_url = (base_url or settings.ESIMGO_BASE_URL).rstrip("/")
        self.currency = (currency or settings.DEFAULT_CURRENCY).upper()
        self.timeout = timeout or (3.05, settings.ESIMGO_READ_TIMEOUT_SECONDS)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.breaker = breaker or shared_breaker(
            name="esimgo",
            fail_max=settings.ESIMGO_BREAKER_FAIL_MAX,
            reset_timeout=settings.ESIMGO_BREAKER_RESET_SECONDS,
        )
        self.sleep = sleep if sleep is not None else time.sleep
        # eSIM Go allows 10 requests/s per IP: the cap holds for all processes together.
        self.limiter = limiter or shared_limiter(
            name="esimgo", per_second=settings.ESIMGO_RATE_LIMIT_PER_SECOND
        )
        self.session = requests.Session()
        self.session.headers.update(
            {"X-API-Key": self.api_key, "Accept": "application/json", "User-Agent": "ttelgo/1"}
        )

    # --- transport ----------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_exponential_jitter(
            multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )(state)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(MAX_RETRY_AFTER, max(retry_after, 0.0))
        return backoff

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: dict[str, Any] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """One logical call. A call that buys something (`idempotent=False`) is retried only
        when the provider surely did not act on it: a 429, or a connect timeout. After a
        read timeout or a 5xx the order may exist, so the caller must check with
        `find_order` before ordering again."""

        def should_retry(exc: BaseException) -> bool:
            if not (isinstance(exc, ProviderError) and exc.transient):
                return False
            return idempotent or isinstance(exc, ProviderRateLimited) or not exc.request_sent

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            sleep=self.sleep,
            reraise=True,
        )

        def attempt_all() -> Any:
            return retrying(self._send, method, path, params=params, body=body)

        operation = f"{method} {_OPERATION_ID.sub('/{id}', path)}"
        try:
            result = self.breaker.call(attempt_all)
        except pybreaker.CircuitBreakerError:
            PROVIDER_CALLS.labels(
                provider="esimgo", operation=operation, outcome="CircuitOpen"
            ).inc()
            raise CircuitOpen("eSIM Go circuit is open after repeated failures") from None
        except Exception as exc:
            PROVIDER_CALLS.labels(
                provider="esimgo", operation=operation, outcome=type(exc).__name__
            ).inc()
            call_outcome_record("esimgo", failed=is_system_failure(exc))
            raise
        PROVIDER_CALLS.labels(provider="esimgo", operation=operation, outcome="ok").inc()
        call_outcome_record("esimgo", failed=False)
        return result

    def _send(self, method: str, path: str, *, params: Any, body: dict[str, Any] | None) -> Any:
        self.limiter.acquire(timeout=RATE_LIMIT_MAX_WAIT)  # every attempt, retries included
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, params=params, json=body, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise ProviderTimeout(
                f"eSIM Go connect timed out: {method} {path}", request_sent=False
            ) from exc
        except requests.Timeout as exc:
            raise ProviderTimeout(f"eSIM Go timed out: {method} {path}") from exc
        except requests.ConnectionError as exc:
            raise ProviderUnavailable(f"eSIM Go unreachable: {method} {path}") from exc
        if resp.status_code >= 400:
            raise self._error(resp, method, path)
        if not resp.content:
            return None
        try:
            # Decimals, not floats: prices go straight into Money.
            return json.loads(resp.text, parse_float=Decimal)
        except ValueError as exc:
            raise ProviderUnavailable(f"eSIM Go sent invalid JSON for {path}") from exc

    @staticmethod
    def _error(resp: requests.Response, method: str, path: str) -> ProviderError:
        try:
            message = str(resp.json().get("message") or "")
        except (ValueError, AttributeError):
            message = ""
        message = message or resp.reason or "error"
        text = f"eSIM Go {resp.status_code} on {method} {path}: {message}"
        status = resp.status_code
        retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        if status == 429:
            return ProviderRateLimited(text, status=status, retry_after=retry_after)
        if status >= 500:
            return ProviderUnavailable(text, status=status, retry_after=retry_after)
        if status in (401, 403):
            return ProviderAuthError(text, status=status)
        if status == 404:
            return ProviderNotFound(text, status=status)
        return ProviderRejected(text, status=status)

    # --- mapping ------------------------------------------------------------------------
    def _money(self, value: Any, currency: str | None = None) -> Money:
        """Upstream decimals may carry more places than the currency; round cost up."""
        cur = (currency or self.currency).upper()
        q = Decimal(1).scaleb(-exponent(cur))
        return Money.from_decimal(Decimal(str(value)).quantize(q, rounding=ROUND_CEILING), cur)

    def _bundle(self, item: dict[str, Any]) -> ProviderBundle:
        unlimited = bool(item.get("unlimited"))
        data_mb = int(item.get("dataAmount") or 0)
        return ProviderBundle(
            code=str(item["name"]),
            description=str(item.get("description") or ""),
            countries=tuple(
                ProviderCountry(
                    iso=str(c.get("iso", "")).upper(),
                    name=str(c.get("name", "")),
                    region=str(c.get("region") or ""),
                )
                for c in item.get("countries") or []
                if c.get("iso")
            ),
            data_mb=0 if unlimited or data_mb < 0 else data_mb,
            unlimited=unlimited,
            validity_days=int(item.get("duration") or 0),
            cost=self._money(item.get("price") or 0),
        )

    def _order(self, data: dict[str, Any], *, client_reference: str = "") -> ProviderOrder:
        lines = data.get("order") or []
        esims = [
            EsimInstall(
                iccid=str(e["iccid"]),
                matching_id=str(e.get("matchingId") or ""),
                smdp_address=str(e.get("smdpAddress") or ""),
            )
            for line in lines
            for e in line.get("esims") or []
        ]
        if not esims:  # GET /orders?includeIccids=true lists bare ICCIDs
            esims = [
                EsimInstall(iccid=str(i), matching_id="", smdp_address="")
                for line in lines
                for i in line.get("iccids") or []
            ]
        raw_status = str(data.get("status") or "").lower()
        if raw_status in ("completed", "complete", "success"):
            status = ProviderOrder.STATUS_COMPLETED
        elif raw_status in ("failed", "cancelled", "canceled", "error"):
            status = ProviderOrder.STATUS_FAILED
        else:
            status = ProviderOrder.STATUS_PROCESSING
        total = data.get("total")
        return ProviderOrder(
            reference=str(data.get("orderReference") or ""),
            status=status,
            bundle_code=str(lines[0].get("item", "")) if lines else "",
            quantity=sum(int(line.get("quantity") or 0) for line in lines),
            esims=esims,
            total=self._money(total, data.get("currency")) if total is not None else None,
            client_reference=client_reference,
            created_at=_parse_time(data.get("createdDate")),
        )

    @staticmethod
    def _items(data: Any, key: str) -> list[dict[str, Any]]:
        """eSIM Go's schema says bare arrays; real responses often wrap them in an object."""
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            return list(data.get(key) or [])
        return []

    # --- catalogue ----------------------------------------------------------------------
    def list_bundles(self) -> list[ProviderBundle]:
        bundles: dict[str, ProviderBundle] = {}
        for page in range(1, MAX_PAGES + 1):
            data = self._request(
                "GET", "/catalogue", params={"page": page, "perPage": CATALOGUE_PAGE_SIZE}
            )
            items = self._items(data, "bundles")
            for item in items:
                bundle = self._bundle(item)
                bundles[bundle.code] = bundle
            page_count = data.get("pageCount") if isinstance(data, dict) else None
            if page_count is not None:
                if page >= int(page_count):
                    break
            elif len(items) < CATALOGUE_PAGE_SIZE:
                break
        else:
            raise ProviderUnavailable("eSIM Go catalogue paging did not end")
        return list(bundles.values())

    # --- orders -------------------------------------------------------------------------
    @staticmethod
    def _order_body(
        kind: str, items: list[OrderItem], *, iccids: list[str] | None = None
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "assign": True,
            "order": [
                {
                    "type": "bundle",
                    "item": it.bundle_code,
                    "quantity": it.quantity,
                    "iccids": iccids or [],
                    "allowReassign": False,
                }
                for it in items
            ],
        }

    def create_order(self, *, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
        body = self._order_body("transaction", [OrderItem(bundle_code, quantity)])
        data = self._request("POST", "/orders", body=body, idempotent=False)
        order = self._order(data, client_reference=reference)
        self._tag(order, reference)
        return order

    def tag_esim(self, *, iccid: str, reference: str) -> None:
        self._request("PUT", "/esims", body={"iccid": iccid, "customerRef": reference})

    def _tag(self, order: ProviderOrder, reference: str) -> None:
        for esim in order.esims:
            try:
                self.tag_esim(iccid=esim.iccid, reference=reference)
            except ProviderError:
                # The order stands; find_order's untagged-order fallback covers this case.
                logger.warning("could not tag eSIM %s with %s", esim.iccid, reference)

    def list_orders(
        self, *, created_from: datetime, created_to: datetime | None = None
    ) -> list[ProviderOrder]:
        orders: list[ProviderOrder] = []
        created = [f"gte:{created_from.astimezone(UTC).isoformat().replace('+00:00', 'Z')}"]
        if created_to is not None:
            created.append(f"lte:{created_to.astimezone(UTC).isoformat().replace('+00:00', 'Z')}")
        for page in range(1, MAX_PAGES + 1):
            params = [
                ("includeIccids", "true"),
                ("page", page),
                ("limit", CATALOGUE_PAGE_SIZE),
                *[("createdAt", c) for c in created],
            ]
            data = self._request("GET", "/orders", params=params)
            items = self._items(data, "orders")
            orders.extend(self._order(o) for o in items)
            page_count = data.get("pageCount") if isinstance(data, dict) else None
            if (page_count is not None and page >= int(page_count)) or (
                page_count is None and len(items) < CATALOGUE_PAGE_SIZE
            ):
                break
        return orders

    def find_order(
        self,
        reference: str,
        *,
        since: datetime | None = None,
        bundle_code: str | None = None,
        quantity: int | None = None,
        adoptable: Callable[[str], bool] | None = None,
    ) -> ProviderOrder | None:
        # Only what was created from `since` (the earliest moment the order could have
        # been placed) until now, give or take the clocks' skew: every page costs a call,
        # and under load a wide window is many pages, each one that can fail.
        now = datetime.now(UTC)
        window_start = since or now - timedelta(hours=24)
        listed = self.list_orders(
            created_from=window_start - CLOCK_SKEW, created_to=now + CLOCK_SKEW
        )
        if adoptable is not None and bundle_code is not None:
            return self._adopt(listed, reference, bundle_code, quantity, adoptable)
        untagged: list[ProviderOrder] = []
        for order in listed:
            if not order.esims:
                continue
            ref = self.get_esim(order.esims[0].iccid).customer_ref
            if ref == reference:
                return self.get_order(order.reference)
            if not ref and order.bundle_code == bundle_code and order.quantity == quantity:
                untagged.append(order)
        # Without `adoptable` only an unambiguous orphan is taken.
        if bundle_code is None or len(untagged) != 1:
            return None
        found = self.get_order(untagged[0].reference)
        self._tag(found, reference)
        return found

    def _adopt(
        self,
        listed: list[ProviderOrder],
        reference: str,
        bundle_code: str,
        quantity: int | None,
        adoptable: Callable[[str], bool],
    ) -> ProviderOrder | None:
        """The first listed order of this bundle and quantity that none of our orders
        holds. Whichever attempt bought it (ours, tagged or not, or another order's that
        died before recording it), its eSIMs are interchangeable with the ones we need;
        the caller records it under a unique constraint, so one order takes it. No eSIM
        is read to find out whose it was: at a few hundred orders in the window, with a
        slow provider, that alone outlived the attempt."""
        for order in listed:
            if (
                order.esims
                and order.bundle_code == bundle_code
                and order.quantity == quantity
                and adoptable(order.reference)
            ):
                found = self.get_order(order.reference)
                self._tag(found, reference)
                return found
        return None

    def get_order(self, provider_reference: str) -> ProviderOrder:
        return self._order(self._request("GET", f"/orders/{provider_reference}"))

    # --- eSIMs --------------------------------------------------------------------------
    def balance(self) -> Money:
        """Our prepaid balance at eSIM Go (`GET /organisation`: `{organisations: [{balance,
        currency}]}`; a flat `{balance, currency}` is read too)."""
        answer = self._request("GET", "/organisation") or {}
        listed = answer.get("organisations") if isinstance(answer, dict) else None
        org = listed[0] if isinstance(listed, list) and listed else answer
        org = org if isinstance(org, dict) else {}
        return self._money(org.get("balance") or 0, org.get("currency") or "USD")

    def get_esim(self, iccid: str) -> EsimDetails:
        data = self._request("GET", f"/esims/{iccid}")
        return EsimDetails(
            iccid=str(data.get("iccid") or iccid),
            matching_id=str(data.get("matchingId") or ""),
            smdp_address=str(data.get("smdpAddress") or ""),
            profile_status=str(data.get("profileStatus") or ""),
            customer_ref=str(data.get("customerRef") or ""),
            first_installed_at=_parse_time(data.get("firstInstalledDateTime")),
        )

    def bundle_compatible(self, *, iccid: str, bundle_code: str) -> bool:
        data = self._request("GET", f"/esims/{iccid}/compatible/{bundle_code}")
        return bool(data.get("compatible"))

    def get_usage(self, iccid: str) -> list[BundleUsage]:
        data = self._request("GET", f"/esims/{iccid}/bundles", params={"includeUsed": "true"})
        usages: list[BundleUsage] = []
        for bundle in self._items(data, "bundles"):
            for a in bundle.get("assignments") or []:
                unlimited = bool(a.get("unlimited"))
                usages.append(
                    BundleUsage(
                        bundle_code=str(bundle.get("name") or ""),
                        initial_bytes=int(a.get("initialQuantity") or 0),
                        remaining_bytes=int(a.get("remainingQuantity") or 0),
                        unlimited=unlimited,
                        state=str(a.get("bundleState") or "").lower(),
                        assigned_at=_parse_time(a.get("assignmentDateTime")),
                        reference=str(a.get("assignmentReference") or ""),
                        expires_at=_parse_time(a.get("endTime")),
                    )
                )
        usages.sort(key=lambda u: u.assigned_at or datetime.min.replace(tzinfo=UTC))
        return usages

    def apply_topup(self, *, iccid: str, bundle_code: str, reference: str) -> TopupResult:
        body = self._order_body("transaction", [OrderItem(bundle_code, 1)], iccids=[iccid])
        data = self._request("POST", "/orders", body=body, idempotent=False)
        order = self._order(data, client_reference=reference)
        return TopupResult(
            reference=order.reference,
            iccid=iccid,
            bundle_code=bundle_code,
            status=order.status,
            cost=order.total,
        )

    def revoke_bundle(self, *, iccid: str, bundle_code: str) -> None:
        self._request(
            "DELETE",
            f"/esims/{iccid}/bundles/{bundle_code}",
            params={"type": "transaction", "refundToBalance": "true"},
        )
