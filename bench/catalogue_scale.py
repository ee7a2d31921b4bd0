"""The catalogue at production scale (issue 34), a phase of `make bench-scale`.

The real eSIM Go catalogue has thousands of bundles. A fake eSIM Go (bench/fakes.py, on
loopback, in this process) serves `esimgo_catalogue_scale`: 10,000 bundles over 190
countries in 8 regions (CATALOGUE_BUNDLES / CATALOGUE_COUNTRIES), and the catalogue is
synced from it through the real client with price rules in place (a global markup, one
per region, one per country for a third of the countries):

- sync time: a first sync of 1,000 bundles, of 10,000 (9,000 new), a re-sync after every
  price moved (10,000 updates and price-history rows), and an unchanged re-sync; goal
  < 60 s each;
- memory: the peak Python allocation (tracemalloc) and the RSS growth of the first syncs
  of 1,000 and of 10,000 bundles, side by side (goal: flat, i.e. not 10x);
- the public (`/api/v1/catalogue/bundles`) and vendor (`/api/v1/vendor/catalogue`) lists
  served by gunicorn (production settings) at 16 clients (wrk), filtered by country,
  region, data and price: a cache-hit run (the same path again and again) and a
  cache-miss run (a price bound unique to each request, above every price, so every
  request builds its page), each p50/p99 next to the goal (p99 < 50 ms), and the bare
  Django view answering the same bytes (bench/urls.py) as the floor.
"""

from __future__ import annotations

import os
import resource
import secrets
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.load import Figures, run_wrk
from bench.procs import Processes, free_port, wait_http

GOAL_SYNC_SECONDS = 60.0
GOAL_P99_MS = 50.0
CLIENTS = 16


def _say(message: str) -> None:
    print(f"[catalogue {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def _rules(items: list[dict[str, Any]]) -> int:
    """The regions and countries the sync would create, and price rules on them."""
    from django.utils.text import slugify

    from catalogue.models import Country, PriceRule, Region

    regions = {}
    for item in items:
        for c in item["countries"]:
            code = slugify(c["region"])
            if code not in regions:
                regions[code] = Region.objects.get_or_create(
                    code=code, defaults={"name": c["region"]}
                )[0]
    countries = {}
    for item in items:
        for c in item["countries"]:
            if c["iso"] not in countries:
                countries[c["iso"]] = Country.objects.get_or_create(
                    iso=c["iso"],
                    defaults={"name": c["name"], "region": regions[slugify(c["region"])]},
                )[0]
    rules = [PriceRule(scope="global", markup_bps=3500)]
    rules += [
        PriceRule(scope="region", region=r, markup_bps=3000 + 250 * i)
        for i, r in enumerate(regions.values())
    ]
    rules += [
        PriceRule(scope="country", country=c, markup_bps=4000 + 10 * i, min_margin_bps=500)
        for i, c in enumerate(countries.values())
        if i % 3 == 0
    ]
    PriceRule.objects.bulk_create(rules)
    return len(rules)


def _sync(label: str, *, trace: bool) -> dict[str, Any]:
    from catalogue.services import catalogue_sync

    rss0 = _rss_mb()
    if trace:
        tracemalloc.start()
    t0 = time.monotonic()
    result = catalogue_sync()
    seconds = time.monotonic() - t0
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    row = {
        "sync": label,
        "seconds": round(seconds, 1),
        "traced": trace,
        "peak_alloc_mb": round(peak, 1),
        "rss_growth_mb": round(_rss_mb() - rss0, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000, 1),
        "result": str(result),
    }
    _say(f"{label}: {row}")
    return row


def sync_figures(bundles: int, countries: int) -> dict[str, Any]:
    """The syncs above, against an in-process fake eSIM Go; returns their figures."""
    from bench.fakes import build, esimgo_catalogue_scale
    from catalogue.models import Bundle

    items = esimgo_catalogue_scale(bundles, countries)
    small = items[: max(1, bundles // 10)]
    server = build("esimgo", free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["ESIMGO_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
    from django.conf import settings

    settings.ESIMGO_BASE_URL = os.environ["ESIMGO_BASE_URL"]
    import providers

    providers._clients.pop("esimgo", None)  # the next client reads the fake's address
    app: Any = server.app
    rules = _rules(items)
    rows = []
    app.catalogue = {i["name"]: i for i in small}
    rows.append(_sync(f"first sync, {len(small):,} bundles", trace=True))
    app.catalogue = {i["name"]: i for i in items}
    rows.append(_sync(f"first sync, {len(items):,} bundles", trace=True))
    for item in items:
        item["price"] = (Decimal(item["price"]) * Decimal("1.03")).quantize(Decimal("0.01"))
    rows.append(_sync(f"re-sync, every price moved ({len(items):,})", trace=False))
    rows.append(_sync(f"re-sync, unchanged ({len(items):,})", trace=False))
    server.shutdown()
    active = Bundle.objects.filter(is_active=True).count()
    return {"bundles": active, "countries": countries, "price_rules": rules, "syncs": rows}


def _app_env(port: int, body_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "THROTTLE_VENDOR": "100000000/min",
            "THROTTLE_ANON": "100000000/min",
            "LOG_LEVEL": "WARNING",
            "BENCH_BARE_VIEW": "true",
            "BENCH_BARE_BODY_FILE": str(body_file),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _get(url: str, key: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextmanager
def serving(work: Path, body_file: Path) -> Iterator[str]:
    """gunicorn (production settings, config/gunicorn.conf.py) on a free loopback port,
    with the bench's bare view mounted; yields its base URL and stops it afterwards."""
    port = free_port()
    procs = Processes(work)
    proc = procs.start(
        "gunicorn-scale",
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "-c",
            "config/gunicorn.conf.py",
        ],
        env=_app_env(port, body_file),
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all()


def endpoint_figures(work: Path, seconds: int) -> list[dict[str, Any]]:
    """Public and vendor lists, each filter, cache hit and miss, and the bare view."""
    from vendors.services import api_key_issue, vendor_create

    vendor = vendor_create(
        name="Catalogue Bench Vendor",
        billing_mode="prepaid",
        contact_email="catalogue-bench@scale.test",
        country="GB",
        approve=True,
    )
    _, key = api_key_issue(vendor=vendor, name="catalogue bench")
    keys = work / "catalogue-keys.txt"
    keys.write_text(key + "\n")
    body_file = work / "catalogue-body.json"
    rows: list[dict[str, Any]] = []
    with serving(work, body_file) as base:
        filters = {
            "country": "country=GB",
            "region": "region=europe",
            "data": "min_data_mb=10000",
            "price": "max_price=20.00",
        }
        for api, prefix in (
            ("public", "/api/v1/catalogue/bundles"),
            ("vendor", "/api/v1/vendor/catalogue"),
        ):
            for name, query in filters.items():
                path = f"{prefix}?{query}"
                status, body = _get(base + path, key)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
                if api == "public" and name == "country":
                    body_file.write_bytes(body)
                for cache, url_path in (
                    ("hit", path),
                    # A price bound unique to the request and above every price: the same
                    # bundles (or, for the price filter, a second bound on top), never cached.
                    (
                        "miss",
                        f"{path}&max_price=9{{n}}"
                        if name != "price"
                        else f"{prefix}?max_price=9{{n}}",
                    ),
                ):
                    f = run_wrk(
                        label=f"{api} {name} {cache}", base_url=base, method="GET", path=url_path,
                        keys_file=keys, clients=CLIENTS, seconds=seconds, work_dir=work,
                    )  # fmt: skip
                    rows.append(_row(f, api=api, filter=name, cache=cache, bytes=len(body)))
        status, bare = _get(base + "/bench/bare/catalogue", key)
        if status != 200 or bare != body_file.read_bytes():
            raise RuntimeError("the bare view does not serve the catalogue's bytes")
        f = run_wrk(
            label="bare Django view, same bytes", base_url=base, method="GET",
            path="/bench/bare/catalogue", keys_file=keys, clients=CLIENTS, seconds=seconds,
            work_dir=work,
        )  # fmt: skip
        rows.append(_row(f, api="bare", filter="country", cache="-", bytes=len(bare)))
    return rows


def _row(f: Figures, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "label": f.label,
        "per_second": round(f.per_second, 1),
        "p50_ms": round(f.p50_ms, 2),
        "p99_ms": round(f.p99_ms, 2),
        "errors": f.errors,
    }


def report(result: dict[str, Any]) -> None:
    print(
        f"\nCatalogue at scale: {result['sync']['bundles']:,} bundles over "
        f"{result['sync']['countries']} countries, {result['sync']['price_rules']} price rules"
    )
    print(f"  {'seconds':>8} {'goal':>6} {'peak MB':>8} {'RSS +MB':>8}  sync")
    for row in result["sync"]["syncs"]:
        flag = "" if row["seconds"] < GOAL_SYNC_SECONDS else "  <-- over goal"
        peak = f"{row['peak_alloc_mb']:>8.1f}" if row["traced"] else f"{'-':>8}"
        traced = " (under tracemalloc)" if row["traced"] else ""
        print(
            f"  {row['seconds']:>8.1f} {'< ' + str(int(GOAL_SYNC_SECONDS)):>6} {peak} "
            f"{row['rss_growth_mb']:>8.1f}  {row['sync']}{traced}{flag}"
        )
    traced = [r for r in result["sync"]["syncs"] if r["traced"]]
    if len(traced) == 2 and traced[0]["peak_alloc_mb"]:
        ratio = traced[1]["peak_alloc_mb"] / traced[0]["peak_alloc_mb"]
        print(
            f"  memory: peak allocation 10x the bundles -> {ratio:.1f}x (goal: flat, well under 10x)"
        )
    print(f"\n  endpoints at {CLIENTS} clients (goal p99 < {GOAL_P99_MS:.0f} ms)")
    print(f"  {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  run")
    for row in result.get("endpoints", []):
        flag = "" if row["p99_ms"] < GOAL_P99_MS or row["api"] == "bare" else "  <-- over goal"
        print(
            f"  {row['per_second']:>8.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['errors']:>6}  {row['label']}{flag}"
        )


def catalogue_scale(work: Path) -> dict[str, Any]:
    bundles = int(os.environ.get("CATALOGUE_BUNDLES", "10000"))
    countries = int(os.environ.get("CATALOGUE_COUNTRIES", "190"))
    _say(f"syncing {bundles:,} bundles over {countries} countries")
    result: dict[str, Any] = {"sync": sync_figures(bundles, countries)}
    work.mkdir(parents=True, exist_ok=True)
    result["endpoints"] = endpoint_figures(work, int(os.environ.get("CATALOGUE_SECONDS", "3")))
    report(result)
    return result
