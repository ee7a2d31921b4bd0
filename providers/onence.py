"""1NCE Management API client: the only module that knows 1NCE's URLs and field names
(facts in docs/IOT.md, "1NCE API").

Versions: 1NCE retires API v1 at the end of 2026. SIM management (list, detail, update,
quotas, top-up, auto top-up, SMS, events) goes to the Platform 2.0 `/v2/sims` endpoints;
usage, orders and products have no documented v2 form and stay on `/v1`. Parsers accept
both the v1 and the v2 shapes where they differ (status strings or objects, events as an
object or a bare array), so moving a path between versions is a one-line change here.

Auth: OAuth client credentials (`POST /oauth/token`, HTTP Basic). The token (about an
hour) is kept in the shared cache (Redis in production), so every web and worker process
uses the same one; it is refreshed `ONCE_TOKEN_REFRESH_MARGIN_SECONDS` before it expires,
and at once when a call answers 401. One refresher at a time: a cache lock across
processes and a mutex inside one, the others wait for its token (1NCE issues a new token
per call and keeps the older ones valid, so a lost race costs one call, not an outage).

Rate limits: each path family (`sims`, `oauth`, `orders`, `products`, `support`) has its
own shared limiter sized by `ONCE_RATE_LIMITS` (1NCE publishes `/sims` 10/s per customer,
`/oauth` 600/min, the others 100 per 5 min per IP). Transport otherwise as eSIM Go's:
timeouts, tenacity retries of transient errors, one shared circuit breaker.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pybreaker
import requests
from django.conf import settings
from django.core.cache import cache
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ttelgo.metrics import PROVIDER_CALLS

from .base import (
    CircuitOpen,
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from .iot import (
    QUOTA_EXHAUSTED,
    QUOTA_EXPIRED,
    QUOTA_LOW,
    QUOTA_OK,
    SIM_DISABLED,
    SIM_ENABLED,
    IotEvent,
    IotOrder,
    IotProduct,
    IotProductCharge,
    IotProvider,
    IotQuota,
    IotSimChange,
    IotSimInfo,
    IotSimPage,
    IotSms,
    IotUsage,
)
from .ratelimit import WINDOW_GUARD_SECONDS, RateLimiter, shared_limiter
from .resilience import retry_after_seconds, shared_breaker

__all__ = ["OnceProvider", "mb_to_bytes"]

logger = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024
TOKEN_CACHE_KEY = "providers:1nce:token"  # noqa: S105 - a cache key
TOKEN_LOCK_KEY = "providers:1nce:token:lock"  # noqa: S105 - a cache key
TOKEN_LOCK_SECONDS = 15
TOKEN_WAIT_SECONDS = 10.0
MAX_RETRY_AFTER = 30.0
RATE_LIMIT_MAX_WAIT = 10.0
SIMS_MAX_PAGE_SIZE = 100
_OPERATION_ID = re.compile(r"/[^/]*\d[^/]*")
_FAMILY = re.compile(r"^/(?:v\d+/)?([a-z]+)")


def mb_to_bytes(value: Any) -> int:
    """1NCE's MB (float, or decimal string in usage) as whole bytes, without floats."""
    if value in (None, ""):
        return 0
    try:
        mb = Decimal(str(value))
    except InvalidOperation:
        return 0
    return int((mb * BYTES_PER_MB).to_integral_value(rounding=ROUND_HALF_UP))


def _count(value: Any) -> int:
    try:
        return int(Decimal(str(value or 0)))
    except InvalidOperation:
        return 0


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with `Z`, `+0000` or none, and `YYYY-MM-DD HH:MM:SS` (all seen at 1NCE)."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _description(value: Any) -> str:
    """v1 sends plain strings, v2 `{id, description}` objects."""
    if isinstance(value, dict):
        return str(value.get("description") or value.get("id") or "")
    return "" if value is None else str(value)


def _quota_state(value: Any) -> str:
    if isinstance(value, dict):
        text = str(value.get("description") or "").upper()
        if text in ("EXHAUSTED", "ACTIVE", "EXPIRED"):
            return {"EXHAUSTED": QUOTA_EXHAUSTED, "EXPIRED": QUOTA_EXPIRED}.get(text, QUOTA_OK)
        value = value.get("id")
    if value is None:
        return QUOTA_OK
    return {0: QUOTA_OK, 1: QUOTA_LOW, 2: QUOTA_EXHAUSTED}.get(_count(value), QUOTA_OK)


_SMS_STATUS = {2: "pending", 4: "delivered", 5: "failed", 6: "expired"}


def _sms_status(value: Any) -> str:
    if isinstance(value, dict):
        text = str(value.get("description") or "").lower()
        if text in ("pending", "delivered", "failed", "expired"):
            return text
        return _SMS_STATUS.get(_count(value.get("id")), "unknown")
    return str(value or "unknown").lower()


class OnceProvider(IotProvider):
    name = "1nce"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        timeout: tuple[float, float] | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        breaker: pybreaker.CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
        limiters: dict[str, RateLimiter] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = settings.ONCE_CLIENT_ID if client_id is None else client_id
        self.client_secret = settings.ONCE_CLIENT_SECRET if client_secret is None else client_secret
        self.base_url = (base_url or settings.ONCE_BASE_URL).rstrip("/")
        self.timeout = timeout or (3.05, settings.ONCE_READ_TIMEOUT_SECONDS)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.breaker = breaker or shared_breaker(name="1nce", fail_max=5, reset_timeout=60)
        self.sleep = sleep if sleep is not None else time.sleep
        self.clock = clock
        self.limiters = limiters if limiters is not None else self._limiters_from_settings()
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "ttelgo/1"})
        self._token: tuple[str, float] | None = None  # (token, expires at epoch seconds)
        self._token_mutex = threading.Lock()

    @staticmethod
    def _limiters_from_settings() -> dict[str, RateLimiter]:
        """`ONCE_RATE_LIMITS`: family -> (calls, window seconds); 0 calls = unlimited."""
        limiters: dict[str, RateLimiter] = {}
        for family, (calls, window) in settings.ONCE_RATE_LIMITS.items():
            limiters[family] = shared_limiter(
                name=f"1nce:{family}",
                per_second=float(calls) / float(window),
                window=float(window) + WINDOW_GUARD_SECONDS,
            )
        return limiters

    # --- token --------------------------------------------------------------------------
    def _token_fresh(self, entry: Any) -> str | None:
        margin = settings.ONCE_TOKEN_REFRESH_MARGIN_SECONDS
        if isinstance(entry, (list, tuple)) and len(entry) == 2:
            token, expires_at = entry
            if token and float(expires_at) - margin > self.clock():
                return str(token)
        return None

    def access_token(self) -> str:
        """The shared token, fetched only when none is fresh (one refresher at a time)."""
        token = self._token_fresh(self._token)
        if token:
            return token
        with self._token_mutex:
            token = self._token_fresh(self._token) or self._token_fresh(cache.get(TOKEN_CACHE_KEY))
            if token:
                self._token = cache.get(TOKEN_CACHE_KEY) or self._token
                return token
            deadline = time.monotonic() + TOKEN_WAIT_SECONDS
            while not cache.add(TOKEN_LOCK_KEY, 1, timeout=TOKEN_LOCK_SECONDS):
                # another process is fetching: take its token when it lands
                self.sleep(0.05)
                entry = cache.get(TOKEN_CACHE_KEY)
                if token := self._token_fresh(entry):
                    self._token = entry
                    return token
                if time.monotonic() > deadline:
                    break  # its holder died: fetch one ourselves
            try:
                entry = cache.get(TOKEN_CACHE_KEY)
                if token := self._token_fresh(entry):
                    self._token = entry
                    return token
                token, expires_in = self._token_fetch()
                entry = (token, self.clock() + expires_in)
                cache.set(TOKEN_CACHE_KEY, entry, timeout=max(1, int(expires_in)))
                self._token = entry
                return token
            finally:
                cache.delete(TOKEN_LOCK_KEY)

    def token_discard(self, token: str) -> None:
        """A 401 with `token`: forget it here and in the cache (unless already replaced)."""
        with self._token_mutex:
            if self._token and self._token[0] == token:
                self._token = None
            entry = cache.get(TOKEN_CACHE_KEY)
            if isinstance(entry, (list, tuple)) and entry and entry[0] == token:
                cache.delete(TOKEN_CACHE_KEY)

    def _token_fetch(self) -> tuple[str, float]:
        if not self.client_id or not self.client_secret:
            raise ProviderAuthError("1NCE credentials are not configured (ONCE_CLIENT_ID/SECRET)")
        data = self._send(
            "POST",
            "/oauth/token",
            body={"grant_type": "client_credentials"},
            auth=(self.client_id, self.client_secret),
        )
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ProviderUnavailable("1NCE token answer has no access_token")
        return str(data["access_token"]), float(data.get("expires_in") or 3600)

    # --- transport ----------------------------------------------------------------------
    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(MAX_RETRY_AFTER, max(retry_after, 0.0))
        return float(
            wait_exponential_jitter(
                initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
            )(state)
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        idempotent: bool = True,
        with_headers: bool = False,
    ) -> Any:
        """One logical call with the bearer token (renewed once on a 401). A call that
        buys (`idempotent=False`: a top-up) is retried only when 1NCE surely did not act."""

        def should_retry(exc: BaseException) -> bool:
            if not (isinstance(exc, ProviderError) and exc.transient):
                return False
            return idempotent or isinstance(exc, ProviderRateLimited) or not exc.request_sent

        def authorised() -> Any:
            token = self.access_token()
            try:
                return self._send(
                    method, path, params=params, body=body, token=token, with_headers=with_headers
                )
            except ProviderAuthError as exc:
                if exc.status != 401:
                    raise
                self.token_discard(token)
                return self._send(
                    method,
                    path,
                    params=params,
                    body=body,
                    token=self.access_token(),
                    with_headers=with_headers,
                )

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            sleep=self.sleep,
            reraise=True,
        )
        operation = f"{method} {_OPERATION_ID.sub('/{id}', path)}"
        try:
            result = self.breaker.call(lambda: retrying(authorised))
        except pybreaker.CircuitBreakerError:
            PROVIDER_CALLS.labels(provider="1nce", operation=operation, outcome="CircuitOpen").inc()
            raise CircuitOpen("1NCE circuit is open after repeated failures") from None
        except Exception as exc:
            PROVIDER_CALLS.labels(
                provider="1nce", operation=operation, outcome=type(exc).__name__
            ).inc()
            raise
        PROVIDER_CALLS.labels(provider="1nce", operation=operation, outcome="ok").inc()
        return result

    def _limiter(self, path: str) -> RateLimiter | None:
        match = _FAMILY.match(path)
        return self.limiters.get(match.group(1)) if match else None

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        token: str | None = None,
        auth: tuple[str, str] | None = None,
        with_headers: bool = False,
    ) -> Any:
        limiter = self._limiter(path)
        if limiter is not None:
            limiter.acquire(timeout=RATE_LIMIT_MAX_WAIT)  # every attempt, retries included
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=body,
                headers=headers,
                auth=auth,
                timeout=self.timeout,
            )
        except requests.ConnectTimeout as exc:
            raise ProviderTimeout(
                f"1NCE connect timed out: {method} {path}", request_sent=False
            ) from exc
        except requests.Timeout as exc:
            raise ProviderTimeout(f"1NCE timed out: {method} {path}") from exc
        except requests.ConnectionError as exc:
            raise ProviderUnavailable(f"1NCE unreachable: {method} {path}") from exc
        if resp.status_code >= 400:
            raise self._error(resp, method, path)
        data: Any = None
        if resp.content:
            try:
                data = json.loads(resp.text, parse_float=Decimal)
            except ValueError as exc:
                raise ProviderUnavailable(f"1NCE sent invalid JSON for {path}") from exc
        return (data, resp.headers) if with_headers else data

    @staticmethod
    def _error(resp: requests.Response, method: str, path: str) -> ProviderError:
        try:
            payload = resp.json()
            message = str(payload.get("message") or payload.get("errorCode") or "")
        except (ValueError, AttributeError):
            message = ""
        text = f"1NCE {resp.status_code} on {method} {path}: {message or resp.reason or 'error'}"
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
    @staticmethod
    def _sim(item: dict[str, Any]) -> IotSimInfo:
        status = _description(item.get("status")).lower()
        quota_mb = item.get("current_quota")
        quota_sms = item.get("current_quota_SMS")
        return IotSimInfo(
            iccid=str(item.get("iccid") or ""),
            imsi=str(item.get("current_imsi") or item.get("imsi") or ""),
            msisdn=str(item.get("msisdn") or ""),
            status=SIM_ENABLED if status in ("enabled", "activated", "active") else SIM_DISABLED,
            label=str(item.get("label") or ""),
            imei=str(item.get("imei") or ""),
            imei_lock=bool(item.get("imei_lock")),
            activated_at=parse_time(item.get("activation_date")),
            ip_address=str(item.get("ip_address") or ""),
            data_left_bytes=None if quota_mb is None else mb_to_bytes(quota_mb),
            sms_left=None if quota_sms is None else _count(quota_sms),
            data_quota_state=_quota_state(item.get("quota_status")),
            sms_quota_state=_quota_state(item.get("quota_status_SMS")),
        )

    @staticmethod
    def _change(change: IotSimChange) -> dict[str, Any]:
        body: dict[str, Any] = {"iccid": change.iccid}
        if change.status is not None:
            body["status"] = "Enabled" if change.status == SIM_ENABLED else "Disabled"
        if change.label is not None:
            body["label"] = change.label
        if change.imei_lock is not None:
            body["imei_lock"] = change.imei_lock
        return body

    # --- SIMs ---------------------------------------------------------------------------
    def list_sims(self, *, page: int = 1, page_size: int = SIMS_MAX_PAGE_SIZE) -> IotSimPage:
        size = max(1, min(page_size, SIMS_MAX_PAGE_SIZE))
        data, headers = self._request(
            "GET", "/v2/sims", params={"page": page, "pageSize": size}, with_headers=True
        )
        items = data if isinstance(data, list) else (data or {}).get("sims") or []
        total_pages = _count(headers.get("X-Total-Pages")) or (page if len(items) < size else 0)
        total = headers.get("X-Total-Count")
        return IotSimPage(
            sims=[self._sim(item) for item in items if item.get("iccid")],
            page=page,
            total_pages=total_pages or page + 1,
            total_count=_count(total) if total is not None else None,
        )

    def get_sim(self, iccid: str) -> IotSimInfo:
        return self._sim(self._request("GET", f"/v2/sims/{iccid}") or {})

    def update_sim(self, change: IotSimChange) -> None:
        self._request("PUT", f"/v2/sims/{change.iccid}", body=self._change(change))

    def update_sims(self, changes: list[IotSimChange]) -> None:
        if changes:
            self._request("POST", "/v2/sims", body=[self._change(c) for c in changes])

    # --- usage and quotas ---------------------------------------------------------------
    def usage(self, iccid: str, *, start: date, end: date) -> list[IotUsage]:
        data = self._request(
            "GET",
            f"/v1/sims/{iccid}/usage",
            params={"start_dt": start.isoformat(), "end_dt": end.isoformat()},
        )
        rows: list[IotUsage] = []
        for stat in (data or {}).get("stats") or []:
            try:
                day = date.fromisoformat(str(stat.get("date"))[:10])
            except ValueError:
                continue
            data_part = stat.get("data") or {}
            sms_part = stat.get("sms") or {}
            rx = mb_to_bytes(data_part.get("volume_rx"))
            tx = mb_to_bytes(data_part.get("volume_tx"))
            total = mb_to_bytes(data_part.get("volume")) or rx + tx
            rows.append(
                IotUsage(
                    day=day,
                    data_bytes=total,
                    data_rx_bytes=rx,
                    data_tx_bytes=tx,
                    sms_mo=_count(sms_part.get("volume_rx")),
                    sms_mt=_count(sms_part.get("volume_tx")),
                )
            )
        return rows

    def quota(self, iccid: str, *, service: str) -> IotQuota:
        if service not in ("data", "sms"):
            raise ValueError(f"unknown quota service {service!r}")
        data = self._request("GET", f"/v2/sims/{iccid}/quota/{service}") or {}
        convert = mb_to_bytes if service == "data" else _count
        left = convert(data.get("volume"))
        state = _quota_state(data.get("status")) if "status" in data else QUOTA_OK
        if state == QUOTA_OK and left <= 0:
            state = QUOTA_EXHAUSTED
        threshold = data.get("threshold_percentage")
        last_added = data.get("last_volume_added")
        return IotQuota(
            service=service,
            left=left,
            total=convert(data.get("total_volume")),
            state=state,
            expires_at=parse_time(data.get("expiry_date")),
            threshold_percent=None if threshold is None else _count(threshold),
            last_added=None if last_added is None else convert(last_added),
        )

    # --- top-up -------------------------------------------------------------------------
    def topup(self, iccid: str) -> str:
        _, headers = self._request(
            "POST",
            f"/v2/sims/{iccid}/topup",
            params={"payment_method": settings.ONCE_TOPUP_PAYMENT_METHOD},
            idempotent=False,  # it buys volume: never re-sent after a read timeout
            with_headers=True,
        )
        location = str(headers.get("Location") or "")
        return location.rstrip("/").rsplit("/", 1)[-1] if location else ""

    def auto_topup_set(self, iccids: list[str], *, enabled: bool) -> None:
        if iccids:
            self._request(
                "POST", "/v2/sims/autoTopup", body={"enabled": enabled, "iccids": list(iccids)}
            )

    # --- SMS ----------------------------------------------------------------------------
    def sms_send(self, iccid: str, *, text: str, source_address: str = "") -> str:
        body: dict[str, Any] = {"payload": text, "dcs": 0}
        if source_address:
            body["source_address"] = source_address
            body["source_address_type"] = {"id": 145 if source_address[:1] == "+" else 161}
        data = self._request("POST", f"/v2/sims/{iccid}/sms", body=body, idempotent=False)
        return str((data or {}).get("id") or "") if isinstance(data, dict) else ""

    def sms_list(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotSms]:
        data = self._request(
            "GET", f"/v2/sims/{iccid}/sms", params={"page": page, "per_page": page_size}
        )
        messages: list[IotSms] = []
        for item in data if isinstance(data, list) else []:
            kind = _description(item.get("sms_type")).upper()
            messages.append(
                IotSms(
                    provider_id=str(item.get("id") or ""),
                    iccid=str(item.get("iccid") or iccid),
                    direction="mo" if kind == "MO" else "mt",
                    text=str(item.get("payload") or ""),
                    status=_sms_status(item.get("status")),
                    submitted_at=parse_time(item.get("submit_date")),
                    delivered_at=parse_time(item.get("delivery_date")),
                    source_address=str(item.get("source_address") or ""),
                )
            )
        return messages

    # --- events -------------------------------------------------------------------------
    def events(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotEvent]:
        data = self._request(
            "GET", f"/v2/sims/{iccid}/events", params={"page": page, "pageSize": page_size}
        )
        items = data if isinstance(data, list) else (data or {}).get("events") or []
        events: list[IotEvent] = []
        for item in items:
            sim = item.get("sim") if isinstance(item.get("sim"), dict) else {}
            at = parse_time(item.get("timestamp"))
            kind = _description(item.get("event_type"))
            events.append(
                IotEvent(
                    # v1 events have no id: the time and kind identify one
                    provider_id=str(item.get("id") or f"{item.get('timestamp')}|{kind}"),
                    iccid=str(sim.get("iccid") or item.get("iccid") or iccid),
                    kind=kind,
                    at=at,
                    severity=_description(item.get("event_severity")),
                    alert=bool(item.get("alert")),
                    description=str(item.get("description") or ""),
                )
            )
        return events

    # --- orders and products (v1: no v2 form documented) --------------------------------
    def list_orders(self, *, page: int = 1, page_size: int = 10) -> list[IotOrder]:
        data = self._request(
            "GET", "/v1/orders", params={"page": page, "pageSize": min(page_size, 10)}
        )
        return [
            IotOrder(
                number=str(item.get("order_number") or ""),
                kind=str(item.get("order_type") or ""),
                status=str(item.get("order_status") or ""),
                created_at=parse_time(item.get("order_date")),
                invoice_amount=str(item.get("invoice_amount") or ""),
                currency=_description(item.get("currency")),
                iccids=tuple(str(s.get("iccid")) for s in item.get("sims") or [] if s.get("iccid")),
            )
            for item in (data if isinstance(data, list) else [])
        ]

    def list_products(self) -> list[IotProduct]:
        data = self._request("GET", "/v1/products")
        return [
            IotProduct(
                provider_id=str(item.get("id") or ""),
                name=str(item.get("product") or ""),
                package_size=_count(item.get("package_size")) or None,
                one_time_charges=tuple(
                    IotProductCharge(
                        name=str(c.get("name") or ""),
                        amount=str(c.get("amount_net") or "0"),
                        currency=_description(c.get("currency")),
                    )
                    for c in item.get("one_time_charges") or []
                ),
            )
            for item in (data if isinstance(data, list) else [])
        ]
