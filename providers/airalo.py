"""Airalo Partner API v2 client: the only module that knows Airalo's URLs and field names.

Same transport as the eSIM Go client (one `requests.Session`, (connect, read) timeouts,
tenacity retries of timeouts, connection errors, 429 and 5xx with backoff and jitter, a
circuit breaker shared through Redis around each logical call, a shared rate limiter),
plus what Airalo needs on top (docs/PROVIDERS.md has the facts and their sources'
contradictions):

- OAuth client credentials: `POST /token` gives a bearer token, kept in Redis for every
  process (`tokens.TokenCache`), refreshed before `AIRALO_TOKEN_MAX_AGE_SECONDS` (Airalo
  says 24 h in words, a year in its sample) and once on a 401; the token endpoint has its
  own limit (`AIRALO_TOKEN_RATE_LIMIT_PER_MINUTE`, 3/min on one page of its docs, 5 on
  another), so however many callers find the token stale, one asks.
- Every limit is a setting: packages per minute, usage calls per second, the usage cache
  per ICCID (Airalo allows 10/min per ICCID on one page and 1 per 15 min on another),
  refunds per minute, the largest order and the quantity from which orders go async.
- Business errors come as 422 (sometimes 200) `{code, reason}`: mapped to our errors
  (11 no credit, 13 operator maintenance, 33/34 out of stock, 73 ICCID recycled, ...).
- Find-before-buy: an order's `description` carries our reference; `find_order` filters
  Airalo's orders by it. Airalo has no idempotency key either.
"""

from __future__ import annotations

import hashlib
import hmac
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
from django.core.cache import cache
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
    Provider,
    ProviderAuthError,
    ProviderBundle,
    ProviderCountry,
    ProviderError,
    ProviderIccidRecycled,
    ProviderMaintenance,
    ProviderNoCredit,
    ProviderNotFound,
    ProviderOrder,
    ProviderOutOfStock,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderTopupDisabled,
    ProviderUnavailable,
    TopupResult,
)
from .ratelimit import RateLimiter, per_minute, shared_limiter
from .resilience import (
    call_outcome_record,
    is_system_failure,
    provider_redis_client,
    retry_after_seconds,
    shared_breaker,
)
from .tokens import FetchedToken, TokenCache

__all__ = ["AIRALO_ERRORS", "AiraloProvider", "airalo_signature_valid"]

logger = logging.getLogger(__name__)

MAX_PAGES = 500
MAX_RETRY_AFTER = 30.0
RATE_LIMIT_MAX_WAIT = 10.0
# A token request waits longer for its slot: at 3/min one slot frees every 20 s.
TOKEN_SLOT_MAX_WAIT = 25.0
ORDERS_PAGE_SIZE = 100
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
SIGNATURE_HEADERS = ("airalo-signature", "x-airalo-signature")
ASYNC_PREFIX = "async:"  # an accepted async order's reference until Airalo creates it

# Airalo's business error codes (`{code, reason}`) and what they mean to us.
AIRALO_ERRORS: dict[int, type[ProviderError]] = {
    11: ProviderNoCredit,  # insufficient Airalo credit
    13: ProviderMaintenance,  # the operator is in maintenance
    14: ProviderRejected,  # invalid checksum
    23: ProviderTopupDisabled,  # top-up disabled for this eSIM
    33: ProviderOutOfStock,  # not enough eSIM stock
    34: ProviderOutOfStock,  # package invalid or out of stock
    43: ProviderRejected,  # bad request
    53: ProviderUnavailable,  # unexpected error on their side
    73: ProviderIccidRecycled,  # the ICCID was recycled
}

USAGE_STATES = {
    "NOT_ACTIVE": "queued",
    "ACTIVE": "active",
    "FINISHED": "depleted",
    "EXPIRED": "expired",
    "RECYCLED": "revoked",
    "UNKNOWN": "processing",
}

_OPERATION_ID = re.compile(r"/[^/]*\d[^/]*")


def _parse_time(value: Any) -> datetime | None:
    """Airalo's `Y-m-d H:i:s` (zone unstated: taken as UTC) or ISO 8601."""
    if not value:
        return None
    text = str(value)
    try:
        parsed = datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    """Numbers come as numbers or as strings ("1", "7"); anything else is 0."""
    try:
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        return 0


def _listed(data: Any) -> list[Any]:
    """A list, or (page >= 2, says the doc) an object keyed by index."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data[k] for k in sorted(data, key=lambda k: _int(k))]
    return []


def _php_json(payload: Any, *, ascii_only: bool) -> bytes:
    """The body as Airalo's PHP SDK re-encodes it: compact, `/` escaped as `\\/`."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only)
    return text.replace("/", "\\/").encode()


def airalo_signature_valid(*, body: bytes, signature: str, secret: str) -> bool:
    """HMAC-SHA512 (hex) keyed with our client secret, of the raw body or of the body as
    PHP re-encodes it (Airalo's SDKs verify that form; its docs name only the algorithm)."""
    if not secret or not signature:
        return False
    candidate = signature.strip().lower()
    forms = [body]
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        payload = None
    if payload is not None:
        forms += [_php_json(payload, ascii_only=True), _php_json(payload, ascii_only=False)]
    for form in forms:
        digest = hmac.new(secret.encode(), form, hashlib.sha512).hexdigest()
        if hmac.compare_digest(candidate, digest):
            return True
    return False


class AiraloProvider(Provider):
    name = "airalo"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        currency: str | None = None,
        timeout: tuple[float, float] | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        breaker: pybreaker.CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
        limiter: RateLimiter | None = None,
        token_limiter: RateLimiter | None = None,
        packages_limiter: RateLimiter | None = None,
        usage_limiter: RateLimiter | None = None,
        refund_limiter: RateLimiter | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.client_id = settings.AIRALO_CLIENT_ID if client_id is None else client_id
        self.client_secret = (
            settings.AIRALO_CLIENT_SECRET if client_secret is None else client_secret
        )
        self.base_url = (base_url or settings.AIRALO_BASE_URL).rstrip("/")
        self.currency = (currency or settings.DEFAULT_CURRENCY).upper()
        self.timeout = timeout or (3.05, settings.AIRALO_READ_TIMEOUT_SECONDS)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.breaker = breaker or shared_breaker(
            name="airalo",
            fail_max=settings.AIRALO_BREAKER_FAIL_MAX,
            reset_timeout=settings.AIRALO_BREAKER_RESET_SECONDS,
        )
        self.sleep = sleep if sleep is not None else time.sleep
        self.limiter = limiter or shared_limiter(
            name="airalo", per_second=settings.AIRALO_RATE_LIMIT_PER_SECOND
        )
        self.token_limiter = token_limiter or per_minute(
            name="airalo-token", limit=settings.AIRALO_TOKEN_RATE_LIMIT_PER_MINUTE
        )
        self.packages_limiter = packages_limiter or per_minute(
            name="airalo-packages", limit=settings.AIRALO_PACKAGES_RATE_LIMIT_PER_MINUTE
        )
        self.usage_limiter = usage_limiter or shared_limiter(
            name="airalo-usage", per_second=settings.AIRALO_USAGE_RATE_LIMIT_PER_SECOND
        )
        self.refund_limiter = refund_limiter or per_minute(
            name="airalo-refund", limit=settings.AIRALO_REFUND_RATE_LIMIT_PER_MINUTE
        )
        self.tokens = token_cache or TokenCache(
            name=f"airalo:{hashlib.sha256(self.client_id.encode()).hexdigest()[:12]}",
            client=provider_redis_client(settings.REDIS_URL) if settings.REDIS_URL else None,
            max_age=settings.AIRALO_TOKEN_MAX_AGE_SECONDS,
            margin=settings.AIRALO_TOKEN_REFRESH_MARGIN_SECONDS,
            cooldown=settings.PROVIDER_REDIS_COOLDOWN_SECONDS,
        )
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "ttelgo/1"})

    # --- token ----------------------------------------------------------------------------
    def _fetch_token(self) -> FetchedToken:
        self.token_limiter.acquire(timeout=TOKEN_SLOT_MAX_WAIT)
        url = f"{self.base_url}/token"
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "client_credentials",
        }
        resp = self._http("POST", url, "/token", data=form, headers={})
        if resp.status_code in (401, 403, 422):
            raise ProviderAuthError(
                f"Airalo {resp.status_code} on POST /token: client credentials refused",
                status=resp.status_code,
            )
        body = self._body(resp, "POST", "/token")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ProviderUnavailable("Airalo token answer has no access_token")
        return FetchedToken(
            token=str(data["access_token"]), expires_in=float(_int(data.get("expires_in")))
        )

    def _token(self) -> str:
        return self.tokens.get(self._fetch_token)

    # --- transport ------------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(MAX_RETRY_AFTER, max(retry_after, 0.0))
        return float(
            wait_exponential_jitter(
                multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
            )(state)
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        idempotent: bool = True,
        limiter: RateLimiter | None = None,
    ) -> Any:
        """One logical call (see the eSIM Go client: a call that buys is retried only when
        Airalo surely did not act on it)."""

        def should_retry(exc: BaseException) -> bool:
            if not (isinstance(exc, ProviderError) and exc.transient):
                return False
            if getattr(exc, "package_level", False):
                return False  # maintenance lasts longer than a backoff
            return idempotent or isinstance(exc, ProviderRateLimited) or not exc.request_sent

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            sleep=self.sleep,
            reraise=True,
        )

        def attempt_all() -> Any:
            return retrying(
                self._send, method, path, params=params, body=body, form=form, limiter=limiter
            )

        operation = f"{method} {_OPERATION_ID.sub('/{id}', path)}"
        try:
            result = self.breaker.call(attempt_all)
        except pybreaker.CircuitBreakerError:
            PROVIDER_CALLS.labels(
                provider="airalo", operation=operation, outcome="CircuitOpen"
            ).inc()
            raise CircuitOpen("Airalo circuit is open after repeated failures") from None
        except Exception as exc:
            PROVIDER_CALLS.labels(
                provider="airalo", operation=operation, outcome=type(exc).__name__
            ).inc()
            call_outcome_record("airalo", failed=is_system_failure(exc))
            raise
        PROVIDER_CALLS.labels(provider="airalo", operation=operation, outcome="ok").inc()
        call_outcome_record("airalo", failed=False)
        return result

    def _http(self, method: str, url: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectTimeout as exc:
            raise ProviderTimeout(
                f"Airalo connect timed out: {method} {path}", request_sent=False
            ) from exc
        except requests.Timeout as exc:
            raise ProviderTimeout(f"Airalo timed out: {method} {path}") from exc
        except requests.ConnectionError as exc:
            raise ProviderUnavailable(f"Airalo unreachable: {method} {path}") from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any,
        body: dict[str, Any] | None,
        form: dict[str, Any] | None,
        limiter: RateLimiter | None,
    ) -> Any:
        url = f"{self.base_url}{path}"
        token = self._token()
        for refreshed in (False, True):
            (limiter or self.limiter).acquire(timeout=RATE_LIMIT_MAX_WAIT)
            if limiter is not None:
                self.limiter.acquire(timeout=RATE_LIMIT_MAX_WAIT)
            resp = self._http(
                method,
                url,
                path,
                params=params,
                json=body,
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            )
            if resp.status_code != 401 or refreshed:
                break
            # The token was revoked or expired early: one new one (one caller fetches).
            self.tokens.invalidate(token)
            token = self._token()
        if resp.status_code >= 400:
            raise self._error(resp, method, path)
        return self._body(resp, method, path)

    def _body(self, resp: requests.Response, method: str, path: str) -> Any:
        if not resp.content:
            return None
        try:
            data = json.loads(resp.text, parse_float=Decimal)
        except ValueError as exc:
            raise ProviderUnavailable(f"Airalo sent invalid JSON for {path}") from exc
        # Some samples put a business error under 200: the body says.
        if isinstance(data, dict) and "data" not in data and _int(data.get("code")):
            raise self._error(resp, method, path, payload=data)
        return data

    @staticmethod
    def _error(
        resp: requests.Response, method: str, path: str, *, payload: Any = None
    ) -> ProviderError:
        if payload is None:
            try:
                payload = resp.json()
            except ValueError:
                payload = None
        payload = payload if isinstance(payload, dict) else {}
        meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
        detail = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        message = str(
            payload.get("reason")
            or payload.get("message")
            or (meta or {}).get("message")
            or "; ".join(str(v) for v in (detail or {}).values())
            or resp.reason
            or "error"
        )
        status = resp.status_code
        code = _int(payload.get("code"))
        text = f"Airalo {status} on {method} {path}: {message}" + (
            f" (code {code})" if code else ""
        )
        retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        if code in AIRALO_ERRORS:
            return AIRALO_ERRORS[code](text, status=status, retry_after=retry_after)
        if status == 429:
            return ProviderRateLimited(text, status=status, retry_after=retry_after)
        if status >= 500:
            return ProviderUnavailable(text, status=status, retry_after=retry_after)
        if status in (401, 403):
            return ProviderAuthError(text, status=status)
        if status == 404:
            return ProviderNotFound(text, status=status)
        if "quantity" in (detail or {}) and "available" in str(detail["quantity"]).lower():
            return ProviderOutOfStock(text, status=status)
        return ProviderRejected(text, status=status)

    # --- mapping --------------------------------------------------------------------------
    def _money(self, value: Any, currency: str | None = None) -> Money:
        cur = (currency or self.currency).upper()
        q = Decimal(1).scaleb(-exponent(cur))
        return Money.from_decimal(Decimal(str(value)).quantize(q, rounding=ROUND_CEILING), cur)

    def _price(self, package: dict[str, Any], kind: str, flat: Any) -> Money | None:
        """A price in our currency: from `prices{kind{CUR}}` when it lists ours, else the
        flat USD figure (only when we account in USD)."""
        prices = package.get("prices") or {}
        listed = (prices.get(kind) or {}) if isinstance(prices, dict) else {}
        if isinstance(listed, dict) and listed.get(self.currency) is not None:
            return self._money(listed[self.currency])
        if flat is not None and self.currency == "USD":
            return self._money(flat, "USD")
        return None

    def _bundle(
        self,
        package: dict[str, Any],
        operator: dict[str, Any],
        country: dict[str, Any],
        model: dict[str, Any],
    ) -> ProviderBundle | None:
        retail = self._price(package, "recommended_retail_price", package.get("price"))
        cost = self._price(package, "net_price", package.get("net_price"))
        if cost is None and retail is not None and model.get("model") == "discount_pricing":
            discount = Decimal(str(model.get("discount_percentage") or 0))
            cost = self._money(retail.to_decimal() * (100 - discount) / 100)
        if cost is None:
            return None  # not priced in our currency: not sellable
        region = "" if country.get("country_code") else str(country.get("title") or "")
        listed = operator.get("countries") or []
        countries = tuple(
            ProviderCountry(
                iso=str(c["country_code"]).upper(), name=str(c.get("title") or ""), region=region
            )
            for c in listed
            if isinstance(c, dict) and c.get("country_code")
        ) or (
            (
                ProviderCountry(
                    iso=str(country["country_code"]).upper(),
                    name=str(country.get("title") or ""),
                    region=region,
                ),
            )
            if country.get("country_code")
            else ()
        )
        unlimited = bool(package.get("is_unlimited"))
        return ProviderBundle(
            code=str(package["id"]),
            description=f"{operator.get('title') or ''} {package.get('title') or ''}".strip(),
            countries=countries,
            data_mb=0 if unlimited else max(0, _int(package.get("amount"))),
            unlimited=unlimited,
            validity_days=_int(package.get("day")),
            cost=cost,
            retail=retail,
        )

    def _order(self, data: dict[str, Any]) -> ProviderOrder:
        sims = _listed(data.get("sims"))
        esims = [
            EsimInstall(
                iccid=str(s["iccid"]),
                matching_id=str(s.get("matching_id") or ""),
                smdp_address=str(s.get("lpa") or ""),
                activation_code=str(s.get("qrcode") or ""),
                apple_install_url=str(s.get("direct_apple_installation_url") or ""),
            )
            for s in sims
            if isinstance(s, dict) and s.get("iccid")
        ]
        quantity = _int(data.get("quantity")) or len(esims)
        status_field = data.get("status")
        raw = str(
            (status_field.get("slug") or status_field.get("name"))
            if isinstance(status_field, dict)
            else (status_field or "")
        ).lower()
        if raw in ("failed", "refunded", "cancelled", "canceled"):
            status = ProviderOrder.STATUS_FAILED
        elif len(esims) >= quantity > 0 or (data.get("type") == "topup" and data.get("id")):
            status = ProviderOrder.STATUS_COMPLETED
        else:
            status = ProviderOrder.STATUS_PROCESSING
        total: Money | None = None
        paid = data.get("total_amount_paid")
        net = data.get("net_price")
        if paid is not None:
            total = self._money(paid, data.get("currency") or "USD")
        elif net is not None:
            total = self._money(Decimal(str(net)) * quantity, data.get("currency") or "USD")
        return ProviderOrder(
            reference=str(data.get("id") or ""),
            status=status,
            bundle_code=str(data.get("package_id") or ""),
            quantity=quantity,
            esims=esims,
            total=total,
            client_reference=str(data.get("description") or ""),
            created_at=_parse_time(data.get("created_at")),
        )

    # --- catalogue ------------------------------------------------------------------------
    def list_bundles(self) -> list[ProviderBundle]:
        bundles: dict[str, ProviderBundle] = {}
        for page in range(1, MAX_PAGES + 1):
            answer = self._request(
                "GET",
                "/packages",
                params={"limit": settings.AIRALO_PACKAGES_PAGE_SIZE, "page": page},
                limiter=self.packages_limiter,
            )
            model = answer.get("pricing") or {} if isinstance(answer, dict) else {}
            for country in _listed(answer.get("data") if isinstance(answer, dict) else answer):
                for operator in country.get("operators") or []:
                    for package in operator.get("packages") or []:
                        if package.get("type", "sim") != "sim" or str(
                            package.get("id", "")
                        ).endswith("-topup"):
                            continue
                        bundle = self._bundle(package, operator, country, model)
                        if bundle is not None:
                            bundles[bundle.code] = bundle
            meta = answer.get("meta") or {} if isinstance(answer, dict) else {}
            if page >= _int(meta.get("last_page") or 1):
                break
        else:
            raise ProviderUnavailable("Airalo packages paging did not end")
        return list(bundles.values())

    # --- orders ---------------------------------------------------------------------------
    def create_order(self, *, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
        """Buy at once (`POST /orders`), or from `AIRALO_ASYNC_ORDER_THRESHOLD` eSIMs on
        `POST /orders-async` (a processing order whose reference is `async:<request
        id>:<our reference>` until Airalo creates it: its webhook, or `get_order` on that
        reference, brings the eSIMs)."""
        if quantity > settings.AIRALO_ORDER_MAX_QUANTITY:
            raise ProviderRejected(
                f"Airalo takes at most {settings.AIRALO_ORDER_MAX_QUANTITY} eSIMs per order"
            )
        body: dict[str, Any] = {
            "quantity": quantity,
            "package_id": bundle_code,
            "type": "sim",
            "description": reference,
        }
        if settings.AIRALO_BRAND_SETTINGS_NAME:
            body["brand_settings_name"] = settings.AIRALO_BRAND_SETTINGS_NAME
        if self._goes_async(quantity):
            body["webhook_url"] = settings.AIRALO_WEBHOOK_URL
            answer = self._request("POST", "/orders-async", body=body, idempotent=False)
            data = (answer or {}).get("data") or {}
            logger.info("Airalo async order %s accepted: %s", reference, data.get("request_id"))
            # Not an order yet: until Airalo creates it, `find_order` finds nothing, which
            # must not read as "nothing bought". This reference says it was accepted;
            # `get_order` on it looks the order up by our reference.
            return ProviderOrder(
                reference=f"{ASYNC_PREFIX}{data.get('request_id') or ''}:{reference}",
                status=ProviderOrder.STATUS_PROCESSING,
                bundle_code=bundle_code,
                quantity=quantity,
                client_reference=reference,
            )
        answer = self._request("POST", "/orders", body=body, idempotent=False)
        return self._order((answer or {}).get("data") or {})

    def _orders_page(self, params: dict[str, Any]) -> tuple[list[ProviderOrder], int]:
        answer = self._request("GET", "/orders", params=params) or {}
        orders = [self._order(o) for o in _listed(answer.get("data")) if isinstance(o, dict)]
        meta = answer.get("meta") or {}
        return orders, _int(meta.get("last_page") or 1)

    @staticmethod
    def _date_range(start: datetime, end: datetime) -> str:
        # Airalo filters by date: a day either side covers its unstated time zone.
        first = (start - timedelta(days=1)).astimezone(UTC).strftime(DATE_FORMAT)
        last = (end + timedelta(days=1)).astimezone(UTC).strftime(DATE_FORMAT)
        return f"{first} - {last}"

    def list_orders(
        self, *, created_from: datetime, created_to: datetime | None = None
    ) -> list[ProviderOrder]:
        end = created_to or datetime.now(UTC)
        found: list[ProviderOrder] = []
        for page in range(1, MAX_PAGES + 1):
            orders, last_page = self._orders_page(
                {
                    "include": "sims,status",
                    "filter[created_at]": self._date_range(created_from, end),
                    "limit": ORDERS_PAGE_SIZE,
                    "page": page,
                }
            )
            found.extend(orders)
            if page >= last_page:
                break
        return [
            o
            for o in found
            if o.created_at is None
            or created_from - timedelta(days=1) <= o.created_at <= end + timedelta(days=1)
        ]

    def find_order(
        self,
        reference: str,
        *,
        since: datetime | None = None,
        bundle_code: str | None = None,
        quantity: int | None = None,
        adoptable: Callable[[str], bool] | None = None,
    ) -> ProviderOrder | None:
        """The order whose `description` is our reference (Airalo keeps it), or None.
        Nothing is adopted: every order we place carries its reference."""
        now = datetime.now(UTC)
        # Whether the filter matches exactly or by substring is not stated: every page is
        # read and only an exact description counts ("ttelgo-order-3" is not "...-33").
        for page in range(1, MAX_PAGES + 1):
            orders, last_page = self._orders_page(
                {
                    "include": "sims,status",
                    "filter[description]": reference,
                    "filter[created_at]": self._date_range(since or now - timedelta(days=1), now),
                    "limit": ORDERS_PAGE_SIZE,
                    "page": page,
                }
            )
            for order in orders:
                if (
                    order.client_reference == reference
                    and order.status != ProviderOrder.STATUS_FAILED
                ):
                    return order
            if page >= last_page:
                break
        if (
            quantity is not None
            and self._goes_async(quantity)
            and since is not None
            and now - since < timedelta(seconds=settings.AIRALO_ASYNC_FIND_GRACE_SECONDS)
        ):
            # An async order whose 202 was lost may not exist yet: not "nothing bought".
            raise ProviderUnavailable(
                f"Airalo async order {reference} may still be created; looking again later"
            )
        return None

    @staticmethod
    def _goes_async(quantity: int) -> bool:
        threshold = settings.AIRALO_ASYNC_ORDER_THRESHOLD
        return bool(threshold and quantity >= threshold and settings.AIRALO_WEBHOOK_URL)

    def tag_esim(self, *, iccid: str, reference: str) -> None:
        """Airalo keeps no reference per eSIM: an order's own `description` carries ours
        (what `find_order` matches), and a stock eSIM sold later stays under the stock
        batch's order there. Nothing to send; our books hold the sale."""
        return None

    def get_order(self, provider_reference: str) -> ProviderOrder:
        """Airalo's order by its id; for an accepted async order (`async:<request
        id>:<our reference>`), the order once Airalo has created it, else still processing."""
        if provider_reference.startswith(ASYNC_PREFIX):
            _request_id, _, reference = provider_reference[len(ASYNC_PREFIX) :].partition(":")
            found = self.find_order(reference)
            if found is not None:
                return found
            return ProviderOrder(
                reference=provider_reference,
                status=ProviderOrder.STATUS_PROCESSING,
                bundle_code="",
                quantity=0,
                client_reference=reference,
            )
        answer = self._request(
            "GET", f"/orders/{provider_reference}", params={"include": "sims,status"}
        )
        return self._order((answer or {}).get("data") or {})

    def order_from_webhook(self, payload: dict[str, Any]) -> ProviderOrder:
        """The order an `orders-async` webhook delivers (order `data` plus `request_id`)."""
        inner = payload.get("data")
        return self._order(inner if isinstance(inner, dict) else payload)

    # --- eSIMs ----------------------------------------------------------------------------
    def get_esim(self, iccid: str) -> EsimDetails:
        answer = self._request("GET", f"/sims/{iccid}", params={"include": "order"})
        data = (answer or {}).get("data") or {}
        simable = data.get("simable") if isinstance(data.get("simable"), dict) else {}
        return EsimDetails(
            iccid=str(data.get("iccid") or iccid),
            matching_id=str(data.get("matching_id") or ""),
            smdp_address=str(data.get("lpa") or ""),
            profile_status="Recycled" if data.get("recycled") else "",
            customer_ref=str((simable or {}).get("description") or ""),
        )

    def install_instructions(self, iccid: str) -> dict[str, Any]:
        """Airalo's per-eSIM instructions (`{language, ios[], android[]}`)."""
        answer = self._request("GET", f"/sims/{iccid}/instructions")
        data = (answer or {}).get("data") or {}
        return dict(data.get("instructions") or {})

    def _topup_packages(self, iccid: str) -> list[str]:
        answer = self._request("GET", f"/sims/{iccid}/topups")
        return [
            str(p.get("id")) for p in _listed((answer or {}).get("data")) if isinstance(p, dict)
        ]

    @staticmethod
    def topup_code(bundle_code: str) -> str:
        """Airalo's top-up package for a package we sell (`<id>-topup`)."""
        return bundle_code if bundle_code.endswith("-topup") else f"{bundle_code}-topup"

    def compatible_topups(self, iccid: str) -> list[str]:
        """The top-up packages Airalo can apply to this eSIM."""
        return self._topup_packages(iccid)

    def bundle_compatible(self, *, iccid: str, bundle_code: str) -> bool:
        listed = self._topup_packages(iccid)
        return bundle_code in listed or self.topup_code(bundle_code) in listed

    def _cached(self, kind: str, iccid: str, fetch: Callable[[], Any]) -> Any:
        """Airalo caches usage for 20 min and limits calls per ICCID: one call per ICCID
        per `AIRALO_USAGE_CACHE_SECONDS`, shared by every process (the Django cache)."""
        key = f"airalo:{kind}:{iccid}"
        found = cache.get(key)
        if found is not None:
            return found
        value = fetch()
        cache.set(key, value, timeout=settings.AIRALO_USAGE_CACHE_SECONDS)
        return value

    def get_usage(self, iccid: str) -> list[BundleUsage]:
        history = self._cached(
            "packages",
            iccid,
            lambda: self._request("GET", f"/sims/{iccid}/packages", limiter=self.usage_limiter),
        )
        usage = self._cached(
            "usage",
            iccid,
            lambda: self._request("GET", f"/sims/{iccid}/usage", limiter=self.usage_limiter),
        )
        current = (usage or {}).get("data") or {}
        usages: list[BundleUsage] = []
        for item in _listed((history or {}).get("data")):
            if not isinstance(item, dict):
                continue
            package = item.get("package") or {}
            unlimited = bool(package.get("is_unlimited"))
            total_mb = _int(package.get("amount"))
            usages.append(
                BundleUsage(
                    bundle_code=str(package.get("id") or ""),
                    initial_bytes=total_mb * 1024 * 1024,
                    remaining_bytes=_int(item.get("remaining")) * 1024 * 1024,
                    unlimited=unlimited,
                    state=USAGE_STATES.get(str(item.get("status") or "").upper(), "processing"),
                    assigned_at=_parse_time(item.get("activated_at")),
                    reference=str(item.get("id") or ""),
                    expires_at=_parse_time(item.get("expired_at")),
                )
            )
        if current:
            state = USAGE_STATES.get(str(current.get("status") or "").upper(), "processing")
            unlimited = bool(current.get("is_unlimited"))
            live = BundleUsage(
                bundle_code=usages[-1].bundle_code if usages else "",
                initial_bytes=0 if unlimited else _int(current.get("total")) * 1024 * 1024,
                remaining_bytes=0 if unlimited else _int(current.get("remaining")) * 1024 * 1024,
                unlimited=unlimited,
                state=state,
                assigned_at=usages[-1].assigned_at if usages else None,
                reference=usages[-1].reference if usages else "",
                expires_at=_parse_time(current.get("expired_at")),
            )
            usages = [*usages[:-1], live]
        usages.sort(key=lambda u: u.assigned_at or datetime.min.replace(tzinfo=UTC))
        return usages

    def apply_topup(self, *, iccid: str, bundle_code: str, reference: str) -> TopupResult:
        answer = self._request(
            "POST",
            "/orders/topups",
            form={
                "package_id": self.topup_code(bundle_code),
                "iccid": iccid,
                "description": reference,
            },
            idempotent=False,
        )
        order = self._order({**((answer or {}).get("data") or {}), "type": "topup"})
        return TopupResult(
            reference=order.reference,
            iccid=iccid,
            bundle_code=bundle_code,
            status=order.status,
            cost=order.total,
        )

    # --- refunds, balance -----------------------------------------------------------------
    def refund_request(self, *, iccids: list[str], reason: str, notes: str = "") -> str:
        """Ask Airalo to refund up to 5 eSIMs. Reviewed by hand, never guaranteed, paid back
        as Airalo credit: the answer is only the refund request's id."""
        if not 1 <= len(iccids) <= settings.AIRALO_REFUND_MAX_ICCIDS:
            raise ProviderRejected(
                f"Airalo refunds 1 to {settings.AIRALO_REFUND_MAX_ICCIDS} eSIMs per request"
            )
        body: dict[str, Any] = {"iccids": iccids, "reason": reason, "notes": notes[:255]}
        answer = self._request(
            "POST", "/refund", body=body, idempotent=False, limiter=self.refund_limiter
        )
        return str(((answer or {}).get("data") or {}).get("refund_id") or "")

    def revoke_bundle(self, *, iccid: str, bundle_code: str) -> None:
        """Airalo cannot revoke: an unused eSIM's refund is requested (credit, if granted)."""
        self.refund_request(
            iccids=[iccid],
            reason=settings.AIRALO_REFUND_REASON,
            notes=f"unused {bundle_code}, not delivered to a customer",
        )

    def balance(self) -> Money:
        answer = self._request("GET", "/balance")
        balances = ((answer or {}).get("data") or {}).get("balances") or {}
        available = balances.get("availableBalance") or {}
        return self._money(available.get("amount") or 0, available.get("currency") or "USD")
