"""What the generated money-race test needs: the money paths found in the URL conf and the
operator modules, what moved (ledger, provider, gateway), and running calls together in
threads that each hold their own database connection.

`movement()` counts everything a money path can do to the outside world or the books:
ledger transactions by kind and the amount they move, holds on funds, the sandbox provider's purchases,
top-ups and revocations (revocation *calls*, counted on the provider class, not only the
rows it changed), and the sandbox gateway's PaymentIntents, charges and refunds."""

from __future__ import annotations

import importlib
import inspect
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.urls import URLPattern, URLResolver, get_resolver

from ledger.models import Entry, Hold, Transaction
from sandbox.models import (
    SandboxBundleAssignment,
    SandboxOrder,
    SandboxPaymentIntent,
    SandboxRefund,
)
from sandbox.provider import SandboxProvider

WRITE_METHODS = ("post", "put", "patch", "delete")
# The API, and the vendor portal and the token pages that act on a vendor's or traveller's
# money (the portal's account pages are django-allauth's: sign-in, passwords, 2FA).
API_PREFIX = "api/v1/"
PAGE_PREFIXES = ("portal/", "e/", "pay/", "t/")
NOT_PAGES = ("portal/accounts/",)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def write_routes() -> list[str]:
    """`METHOD path` for every API view method that writes, and `PAGE path` for every
    portal or token page (function views: which methods they take is not visible from
    outside, so each is listed)."""
    found: list[str] = []
    for path, pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None) or getattr(
            pattern.callback, "cls", None
        )
        if path.startswith(API_PREFIX):
            if view is None:
                continue  # the catch-all 404 of unknown API URLs
            found += [f"{m.upper()} {path}" for m in WRITE_METHODS if hasattr(view, m)]
        elif path.startswith(PAGE_PREFIXES) and not path.startswith(NOT_PAGES):
            found.append(f"PAGE {path}")
    return found


def operator_actions() -> list[str]:
    """`module.function` for every public function of every app's `operator.py`, and every
    `operator_*` service elsewhere in the apps (the console calls them)."""
    root = Path(settings.BASE_DIR)
    found: set[str] = set()
    for source in sorted(root.glob("*/**/*.py")):
        parts = source.relative_to(root).with_suffix("").parts
        app = parts[0]
        if app in ("tests", "bench", "config") or not (root / app / "apps.py").exists():
            continue
        if "migrations" in parts or parts[-1] == "__init__":
            continue
        text = source.read_text()
        if source.name != "operator.py" and "\ndef operator_" not in text:
            continue
        module = importlib.import_module(".".join(parts))
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            if source.name == "operator.py" or name.startswith("operator_"):
                found.add(f"{module.__name__}.{name}")
    return sorted(found)


def beat_jobs() -> list[str]:
    """`beat <task name>` for every job of the beat schedule."""
    return sorted(f"beat {job['task']}" for job in settings.CELERY_BEAT_SCHEDULE.values())


def console_actions() -> list[str]:
    """`module.ModelAdmin.action` for every bulk action of the operator console, and
    `module.ModelAdmin page:<url name>` for every page a ModelAdmin adds to the standard
    list, add, change, delete and history pages (an order's refund page, a vendor's
    adjustment page …)."""
    from django.contrib import admin

    standard = ("_changelist", "_add", "_history", "_delete", "_change")
    found = set()
    for model_admin in admin.site._registry.values():
        owner = f"{type(model_admin).__module__}.{type(model_admin).__name__}"
        for action in model_admin.actions or ():
            found.add(f"{owner}.{action if isinstance(action, str) else action.__name__}")
        for url in model_admin.get_urls():
            if isinstance(url, URLPattern) and url.name and not url.name.endswith(standard):
                found.add(f"{owner} page:{url.name}")
    return sorted(found)


# --- what moved -------------------------------------------------------------------------------

_revocations = Counter[str]()
_revocations_lock = threading.Lock()


@contextmanager
def provider_calls_counted() -> Iterator[None]:
    """Count `revoke_bundle` calls on the sandbox provider, whatever they return."""
    real = SandboxProvider.revoke_bundle

    def counted(self: SandboxProvider, **kwargs: Any) -> None:
        with _revocations_lock:
            _revocations["calls"] += 1
        return real(self, **kwargs)

    _revocations.clear()
    with mock.patch.object(SandboxProvider, "revoke_bundle", counted):
        yield


def _sum(qs: Any, field: str = "amount") -> int:
    return int(qs.aggregate(total=Sum(field))["total"] or 0)


def movement() -> Counter[str]:
    """Everything money paths move, as counters (compare two with `moved_between`)."""
    charged = SandboxPaymentIntent.objects.filter(status="succeeded")
    found = Counter[str](
        {
            "ledger transactions": Transaction.objects.count(),
            "ledger moved (minor units)": _sum(Entry.objects.filter(amount__gt=0)),
            "ledger holds": Hold.objects.count(),
            "ledger held (minor units)": _sum(Hold.objects.all()),
            "ledger holds captured (minor units)": _sum(Hold.objects.all(), "captured_amount"),
            "provider orders": SandboxOrder.objects.count(),
            "provider bundles assigned": SandboxBundleAssignment.objects.count(),
            "provider bundles revoked": SandboxBundleAssignment.objects.filter(
                revoked=True
            ).count(),
            "provider revoke calls": _revocations["calls"],
            "gateway payment intents": SandboxPaymentIntent.objects.count(),
            "gateway charges": charged.count(),
            "gateway charged (minor units)": _sum(charged),
            "gateway refunds": SandboxRefund.objects.count(),
            "gateway refunded (minor units)": _sum(SandboxRefund.objects.all()),
        }
    )
    for kind, n in Counter(Transaction.objects.values_list("kind", flat=True)).items():
        found[f"ledger {kind}"] = n
    for status, n in Counter(Hold.objects.values_list("status", flat=True)).items():
        found[f"ledger holds {status}"] = n
    return found


def moved_between(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in sorted(set(before) | set(after))}


# --- running calls together -------------------------------------------------------------------


def race(call: Callable[[int], Any], n: int) -> list[Any]:
    """Run `call(i)` for i in 0..n-1 in n threads released together, each on its own
    database connection; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = call(i)
        except Exception as exc:  # the result of that request
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a racing request never returned"
    return results


def succeeded(result: Any) -> bool:
    """A request that was answered with success (2xx, or a service call that returned)."""
    if isinstance(result, BaseException):
        return False
    status = getattr(result, "status_code", None)
    return status is None or 200 <= status < 300


def failures(results: list[Any]) -> list[str]:
    """Refusals that are not a clean answer: a 5xx, or an exception other than the
    domain error a service raises to refuse."""
    from ttelgo.errors import DomainError

    bad = []
    for r in results:
        if isinstance(r, DomainError):
            continue
        if isinstance(r, BaseException):
            bad.append(f"{type(r).__name__}: {r}")
        elif getattr(r, "status_code", 200) >= 500:
            bad.append(f"{r.status_code}: {r.content[:200]!r}")
    return bad
