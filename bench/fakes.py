"""Loopback stand-ins for the upstreams the production settings insist on: an eSIM Go
v2.4 server (shapes from eSIM Go API v2.4, zero latency by default), an Airalo Partner API
v2 server (shapes from docs/PROVIDERS.md) and a small Stripe-compatible API
(PaymentIntents, refunds). Each runs in its own process, with its own fault knobs:

    python -m bench.fakes esimgo --port 8101
    python -m bench.fakes airalo --port 8103
    python -m bench.fakes stripe --port 8102

They keep state in memory and log every request's arrival time, which the rate-limit
benchmark reads back from `GET /__bench/log`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (iso, name, region, cents per GB): enough countries for a realistic catalogue page.
COUNTRIES: list[tuple[str, str, str, int]] = [
    ("GB", "United Kingdom", "Europe", 120),
    ("FR", "France", "Europe", 110),
    ("DE", "Germany", "Europe", 110),
    ("ES", "Spain", "Europe", 105),
    ("IT", "Italy", "Europe", 110),
    ("NL", "Netherlands", "Europe", 115),
    ("PT", "Portugal", "Europe", 100),
    ("CH", "Switzerland", "Europe", 250),
    ("US", "United States", "North America", 190),
    ("CA", "Canada", "North America", 260),
    ("MX", "Mexico", "North America", 200),
    ("BR", "Brazil", "South America", 240),
    ("JP", "Japan", "Asia", 150),
    ("KR", "South Korea", "Asia", 160),
    ("SG", "Singapore", "Asia", 130),
    ("TH", "Thailand", "Asia", 100),
    ("IN", "India", "Asia", 140),
    ("AE", "United Arab Emirates", "Middle East", 280),
    ("AU", "Australia", "Oceania", 170),
    ("ZA", "South Africa", "Africa", 230),
]
PLANS: list[tuple[int, int]] = [(1, 7), (3, 15), (5, 30), (10, 30), (20, 30)]  # (GB, days)


def esimgo_catalogue() -> list[dict[str, Any]]:
    """eSIM Go catalogue items, one per (country, plan), prices as decimal numbers."""
    items: list[dict[str, Any]] = []
    for iso, name, region, per_gb in COUNTRIES:
        country = {"name": name, "region": region, "iso": iso}
        for gb, days in PLANS:
            price = Decimal(per_gb * gb) / 100
            items.append(
                {
                    "name": f"esim_{gb}GB_{days}D_{iso}_V2",
                    "description": f"eSIM, {gb}GB, {days} Days, {name}, V2",
                    "groups": ["Standard Fixed"],
                    "countries": [country],
                    "roamingEnabled": [],
                    "dataAmount": gb * 1000,
                    "duration": days,
                    "speed": ["4G", "5G"],
                    "autostart": True,
                    "unlimited": False,
                    "price": price,
                    "billingType": "FixedCost",
                }
            )
    return items


# A production-size catalogue (bench/catalogue_scale.py): eSIM Go sells thousands of
# bundles; this one spreads `bundles` over `countries` made-up countries in 8 regions,
# about 5 % of them regional bundles covering a whole region.
SCALE_REGIONS = (
    "Europe", "Asia", "Africa", "North America", "South America", "Middle East", "Oceania",
    "Caribbean",
)  # fmt: skip
SCALE_PLANS: list[tuple[int, int, bool]] = [
    (gb, days, False) for gb in (1, 2, 3, 5, 10, 15, 20, 50) for days in (7, 15, 30, 90)
] + [(0, days, True) for days in (1, 3, 5, 7, 10, 15, 20, 30)]  # 40 plans a country


def scale_country(i: int) -> dict[str, str]:
    """Country i of the scale catalogue: the real ones above first, then made-up
    two-letter codes (AA, AB, ...) that no real one uses."""
    if i < len(COUNTRIES):
        iso, name, region, _ = COUNTRIES[i]
        return {"name": name, "region": region, "iso": iso}
    real = {c[0] for c in COUNTRIES}
    spare = [a + b for a in _LETTERS for b in _LETTERS if a + b not in real]
    iso = spare[i - len(COUNTRIES)]
    return {"name": f"Country {iso}", "region": SCALE_REGIONS[i % len(SCALE_REGIONS)], "iso": iso}


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def esimgo_catalogue_scale(bundles: int = 10_000, countries: int = 190) -> list[dict[str, Any]]:
    """`bundles` eSIM Go catalogue items over `countries` countries: per country as many
    plans as fit (up to 40 a country, then variants), and one regional bundle in 20."""
    nations = [scale_country(i) for i in range(countries)]
    codes = [n["iso"] for n in nations]
    if len(set(codes)) != len(codes):
        raise ValueError("scale catalogue country codes collide")
    by_region: dict[str, list[dict[str, str]]] = {}
    for n in nations:
        by_region.setdefault(n["region"], []).append(n)
    items: list[dict[str, Any]] = []
    regional = bundles // 20
    for k in range(bundles):
        gb, days, unlimited = SCALE_PLANS[k % len(SCALE_PLANS)]
        variant = k // (len(SCALE_PLANS) * countries)
        if k < regional:
            region = SCALE_REGIONS[k % len(SCALE_REGIONS)]
            covered = by_region.get(region) or nations[:5]
            place, code_place = region, region.replace(" ", "")
        else:
            covered = [nations[(k // len(SCALE_PLANS)) % countries]]
            place, code_place = covered[0]["name"], covered[0]["iso"]
        per_gb = 100 + (k * 37) % 250
        price = Decimal(per_gb * max(gb, 8) + days * 3) / 100
        size = "UL" if unlimited else f"{gb}GB"
        items.append(
            {
                "name": f"esim_{size}_{days}D_{code_place}_V{2 + variant}_{k}",
                "description": f"eSIM, {size}, {days} Days, {place}, V{2 + variant}",
                "groups": ["Standard Fixed"] if not unlimited else ["Standard Unlimited Lite"],
                "countries": covered,
                "roamingEnabled": [],
                "dataAmount": gb * 1000 if not unlimited else -1,
                "duration": days,
                "speed": ["4G", "5G"],
                "autostart": True,
                "unlimited": unlimited,
                "price": price,
                "billingType": "FixedCost",
            }
        )
    return items


class _Json(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)  # eSIM Go sends JSON numbers; the client parses them as Decimal
        return super().default(o)


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: thousands of requests

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, cls=_Json).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        with self.server.lock:
            self.server.log.append((time.time(), method, parts.path))
        if parts.path == "/__bench/log":
            with self.server.lock:
                entries = list(self.server.log)
            return self._send(200, {"log": entries})
        if parts.path == "/__bench/reset":
            with self.server.lock:
                self.server.log.clear()
            return self._send(200, {})
        if parts.path.startswith("/__bench/") and hasattr(self.server.app, "bench"):
            status, payload = self.server.app.bench(method, parts.path, body)
            return self._send(status, payload)
        status, payload = self.server.app.handle(
            method, parts.path, parse_qs(parts.query), body, self.headers
        )
        self._send(status, payload)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


Response = tuple[int, Any]


class EsimGoApp:
    """In-memory eSIM Go: catalogue, orders (completed at once), eSIM tags and details.

    Faults for the chaos suite, set with `POST /__bench/faults {latency, error_rate,
    timeout_rate, timeout_seconds}`: every call but the catalogue waits `latency` seconds;
    `error_rate` of them answer `error_status` (500 unless set) without acting; `timeout_rate` act and then answer only
    after `timeout_seconds` (longer than the client waits: a read timeout after the
    provider acted). `unavailable_seconds`: every call but the catalogue answers 503 for
    that long from when the faults are set (an outage). `GET /__bench/stats` counts the
    orders placed."""

    def __init__(self) -> None:
        self.catalogue = {item["name"]: item for item in esimgo_catalogue()}
        self.orders: dict[str, dict[str, Any]] = {}
        self.esims: dict[str, dict[str, Any]] = {}
        self.iccids = itertools.count(8944000000000000001)
        self.lock = threading.Lock()
        self.faults: dict[str, float] = {}
        self.random = random.Random(7)
        self.unavailable_until = 0.0  # monotonic time the injected outage ends

    def bench(self, method: str, path: str, body: bytes) -> Response:
        if path == "/__bench/faults" and method == "POST":
            with self.lock:
                self.faults = {k: float(v) for k, v in json.loads(body or b"{}").items()}
                outage = self.faults.get("unavailable_seconds", 0.0)
                self.unavailable_until = time.monotonic() + outage if outage else 0.0
            return 200, self.faults
        if path == "/__bench/stats":
            with self.lock:
                by_ref: dict[str, int] = {}
                for order in self.orders.values():
                    iccids = [i for line in order["order"] for i in line.get("iccids", [])]
                    refs = {self.esims.get(i, {}).get("customerRef", "") for i in iccids}
                    for ref in refs:
                        by_ref[ref or "(untagged)"] = by_ref.get(ref or "(untagged)", 0) + 1
                untagged = by_ref.pop("(untagged)", 0)
                return 200, {
                    "orders": len(self.orders),
                    "untagged": untagged,
                    "by_ref": by_ref,
                    "faults": self.faults,
                }
        return 404, {"message": "Not found"}

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> Response:
        if not headers.get("X-API-Key"):
            return 401, {"message": "Unauthorised"}
        if "catalogue" not in path and time.monotonic() < self.unavailable_until:
            return 503, {"message": "Service unavailable (injected outage)"}
        if "catalogue" in path or not self.faults:
            return self._handle(method, path, query, body)
        with self.lock:
            faults, roll = dict(self.faults), self.random.random()
        time.sleep(faults.get("latency", 0.0))
        error_rate = faults.get("error_rate", 0.0)
        if roll < error_rate:
            # `error_status` (default 500): 503 plays a provider that is down.
            return int(faults.get("error_status", 500)), {"message": "Internal error (injected)"}
        response = self._handle(method, path, query, body)
        if roll < error_rate + faults.get("timeout_rate", 0.0):
            time.sleep(faults.get("timeout_seconds", 5.0))  # acted; the answer comes too late
        return response

    def _handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Response:
        seg = [s for s in path.split("/") if s]
        if seg and seg[0] == "v2.4":
            seg = seg[1:]
        if seg == ["catalogue"] and method == "GET":
            return self._catalogue(query)
        if len(seg) == 3 and seg[:2] == ["catalogue", "bundle"]:
            item = self.catalogue.get(seg[2])
            return (200, item) if item else (404, {"message": "Bundle not found"})
        if seg == ["orders"] and method == "POST":
            return self._order(json.loads(body or b"{}"))
        if seg == ["orders"] and method == "GET":
            return self._orders_list(query)
        if len(seg) == 2 and seg[0] == "orders":
            order = self.orders.get(seg[1])
            return (200, order) if order else (404, {"message": "Order not found"})
        if seg == ["esims"] and method == "PUT":
            data = json.loads(body or b"{}")
            with self.lock:
                esim = self.esims.setdefault(str(data.get("iccid")), {"iccid": data.get("iccid")})
                esim["customerRef"] = data.get("customerRef", "")
            return 200, {}
        if seg == ["esims", "assignments"]:
            refs = query.get("reference", [])
            return 200, [
                {**e, "profileStatus": "Released", "pin": "1111", "puk": "22222222"}
                for ref in refs
                for line in self.orders.get(ref, {}).get("order", [])
                for e in line.get("esims", [])
            ]
        if len(seg) == 2 and seg[0] == "esims":
            found = self.esims.get(seg[1])
            return (
                (200, {**found, "profileStatus": "Released"})
                if found
                else (404, {"message": "eSIM not found"})
            )
        if len(seg) == 3 and seg[0] == "esims" and seg[2] == "bundles":
            return 200, {"bundles": []}
        if seg == ["organisation"]:
            return 200, {"balance": 100000.0, "currency": "USD", "testCredit": 0}
        return 404, {"message": "Not found"}

    def _orders_list(self, query: dict[str, list[str]]) -> Response:
        """`createdAt=gte:<iso>` / `lte:<iso>` and `page` / `limit`, as eSIM Go filters."""
        with self.lock:
            orders = list(self.orders.values())
        for bound in query.get("createdAt", []):
            op, _, when = bound.partition(":")
            stamp = when[:19]  # ISO seconds compare as text
            if op == "gte":
                orders = [o for o in orders if o["createdDate"][:19] >= stamp]
            elif op == "lte":
                orders = [o for o in orders if o["createdDate"][:19] <= stamp]
        limit = int((query.get("limit") or ["100"])[0])
        page = int((query.get("page") or ["1"])[0])
        pages = max(1, -(-len(orders) // limit))
        return 200, {"orders": orders[(page - 1) * limit : page * limit], "pageCount": pages}

    def _catalogue(self, query: dict[str, list[str]]) -> Response:
        page = int((query.get("page") or ["1"])[0])
        per_page = int((query.get("perPage") or ["100"])[0])
        items = list(self.catalogue.values())
        pages = max(1, -(-len(items) // per_page))
        start = (page - 1) * per_page
        return 200, {
            "bundles": items[start : start + per_page],
            "pageCount": pages,
            "rows": len(items),
        }

    def _order(self, data: dict[str, Any]) -> Response:
        lines_out = []
        total = Decimal(0)
        for line in data.get("order") or []:
            item = self.catalogue.get(str(line.get("item")))
            if item is None:
                return 400, {"message": f"Bundle {line.get('item')} not found"}
            qty = int(line.get("quantity") or 1)
            subtotal = item["price"] * qty
            total += subtotal
            out: dict[str, Any] = {
                "type": "bundle",
                "item": item["name"],
                "quantity": qty,
                "subTotal": subtotal,
                "pricePerUnit": item["price"],
                "allowReassign": False,
            }
            if data.get("type") == "transaction":
                iccids = line.get("iccids") or []
                with self.lock:
                    new = [str(next(self.iccids)) for _ in range(qty - len(iccids))]
                out["iccids"] = iccids or new
                out["esims"] = [
                    {
                        "iccid": i,
                        "matchingId": uuid.uuid4().hex[:20].upper(),
                        "smdpAddress": "rsp.fake.esim-go.test",
                    }
                    for i in new
                ]
                with self.lock:
                    for e in out["esims"]:
                        self.esims[e["iccid"]] = {**e, "customerRef": ""}
            lines_out.append(out)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if data.get("type") != "transaction":
            return 200, {
                "order": lines_out,
                "total": total,
                "valid": True,
                "currency": "USD",
                "createdDate": created,
                "assigned": False,
            }
        ref = str(uuid.uuid4())
        order = {
            "order": lines_out,
            "total": total,
            "currency": "USD",
            "status": "completed",
            "statusMessage": "Order completed",
            "orderReference": ref,
            "createdDate": created,
            "assigned": True,
            "sourceIP": "127.0.0.1",
        }
        with self.lock:
            self.orders[ref] = order
        return 200, order


# Packages only Airalo sells (no equivalent at eSIM Go): (iso, name, region, cents per GB).
AIRALO_ONLY_COUNTRIES: list[tuple[str, str, str, int]] = [("IS", "Iceland", "Europe", 210)]
AIRALO_MARKUP = Decimal("1.10")  # Airalo's net price over eSIM Go's: eSIM Go wins on margin


def airalo_packages() -> list[dict[str, Any]]:
    """Airalo's packages tree (country -> operators -> packages), one package per
    (country, plan), equivalent to eSIM Go's (1 GB is 1024 MB here), 10 % dearer."""
    tree: list[dict[str, Any]] = []
    for iso, name, _region, per_gb in [*COUNTRIES, *AIRALO_ONLY_COUNTRIES]:
        slug = name.lower().replace(" ", "-")
        packages = []
        for gb, days in PLANS:
            net = (Decimal(per_gb * gb) * AIRALO_MARKUP / 100).quantize(Decimal("0.01"))
            retail = (net * Decimal("1.5")).quantize(Decimal("0.01"))
            packages.append(
                {
                    "id": f"{slug}-{days}days-{gb}gb",
                    "type": "sim",
                    "title": f"{gb} GB - {days} Days",
                    "data": f"{gb} GB",
                    "amount": gb * 1024,
                    "day": days,
                    "is_unlimited": False,
                    "price": retail,
                    "net_price": net,
                    "prices": {
                        "net_price": {"USD": net},
                        "recommended_retail_price": {"USD": retail},
                    },
                }
            )
        tree.append(
            {
                "slug": slug,
                "country_code": iso,
                "title": name,
                "operators": [
                    {
                        "id": len(tree) + 1,
                        "title": f"{name} Mobile",
                        "type": "local",
                        "countries": [{"country_code": iso, "title": name}],
                        "packages": packages,
                    }
                ],
            }
        )
    return tree


class AiraloApp:
    """In-memory Airalo Partner API v2 (the shapes docs/PROVIDERS.md gives): `POST
    /v2/token` (client credentials), `GET /v2/packages`, `POST /v2/orders` (completed at
    once), `GET /v2/orders` (filter[description], filter[created_at], paged),
    `GET /v2/orders/{id}`, `GET /v2/sims/{iccid}` (+ `/usage`, `/packages`, `/topups`,
    `/instructions`), `POST /v2/orders/topups`, `POST /v2/refund`, `GET /v2/balance`.

    Its own faults, independent of the eSIM Go fake's, set with `POST /__bench/faults
    {latency, error_rate, error_status, timeout_rate, timeout_seconds, maintenance_rate,
    out_of_stock_rate, no_credit_rate}`: every call but the token and the packages waits
    `latency`; `error_rate` answer `error_status` (500) without acting; `timeout_rate` act
    and answer after `timeout_seconds`; an order may be refused, without buying, with
    Airalo's business errors (422 code 13 operator maintenance, 33 out of stock, 11 not
    enough credit). `GET /__bench/stats` counts orders (and per description);
    `POST /__bench/credit {amount}` pays credit back (a refund Airalo granted)."""

    CLIENT_ID = "bench-airalo-client"

    def __init__(self) -> None:
        self.packages = airalo_packages()
        self.by_id = {
            p["id"]: p for c in self.packages for o in c["operators"] for p in o["packages"]
        }
        self.orders: dict[int, dict[str, Any]] = {}
        self.sims: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.balance = Decimal("100000.00")
        self.ids = itertools.count(90001)
        self.iccids = itertools.count(8910300000000000001)
        self.lock = threading.Lock()
        self.faults: dict[str, float] = {}
        self.random = random.Random(11)

    def bench(self, method: str, path: str, body: bytes) -> Response:
        if path == "/__bench/faults" and method == "POST":
            with self.lock:
                self.faults = {k: float(v) for k, v in json.loads(body or b"{}").items()}
            return 200, self.faults
        if path == "/__bench/credit" and method == "POST":
            amount = Decimal(str(json.loads(body or b"{}").get("amount", "0")))
            with self.lock:
                self.balance += amount
            return 200, {"balance": self.balance}
        if path == "/__bench/stats":
            with self.lock:
                by_description: dict[str, int] = {}
                for order in self.orders.values():
                    if order["type"] == "sim":
                        d = order["description"]
                        by_description[d] = by_description.get(d, 0) + 1
                return 200, {
                    "orders": sum(1 for o in self.orders.values() if o["type"] == "sim"),
                    "topups": sum(1 for o in self.orders.values() if o["type"] == "topup"),
                    "by_description": by_description,
                    "refunds": len(self.refunds),
                    "token_requests": self.token_requests,
                    "faults": self.faults,
                }
        return 404, {"message": "Not found"}

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> Response:
        seg = [s for s in path.split("/") if s]
        if seg and seg[0] == "v2":
            seg = seg[1:]
        if seg == ["token"] and method == "POST":
            return self._token(_form(parse_qs(body.decode())))
        token = str(headers.get("Authorization", "")).removeprefix("Bearer ")
        with self.lock:
            known = token in self.tokens
        if not known:
            return 401, {"data": [], "meta": {"message": "Unauthenticated."}}
        if seg == ["packages"] or not self.faults:
            return self._handle(method, seg, query, body)
        with self.lock:
            faults, roll = dict(self.faults), self.random.random()
        time.sleep(faults.get("latency", 0.0))
        error_rate = faults.get("error_rate", 0.0)
        if roll < error_rate:
            return int(faults.get("error_status", 500)), {"message": "Server Error (injected)"}
        buying = method == "POST" and seg in (["orders"], ["orders", "topups"])
        if buying:
            refusal = self.random.random()
            for knob, code, reason in (
                ("maintenance_rate", 13, "The operator is currently undergoing maintenance."),
                ("out_of_stock_rate", 33, "Insufficient stock for the requested package."),
                ("no_credit_rate", 11, "Insufficient Airalo Credit."),
            ):
                if refusal < faults.get(knob, 0.0):
                    return 422, {"code": code, "reason": reason}
                refusal -= faults.get(knob, 0.0)
        response = self._handle(method, seg, query, body)
        if roll < error_rate + faults.get("timeout_rate", 0.0):
            time.sleep(faults.get("timeout_seconds", 5.0))  # acted; the answer comes too late
        return response

    @staticmethod
    def _ok(data: Any, **meta: Any) -> dict[str, Any]:
        return {"data": data, "meta": {"message": "success", **meta}}

    def _token(self, form: dict[str, Any]) -> Response:
        if form.get("client_id") != self.CLIENT_ID or not form.get("client_secret"):
            return 422, {"data": {"client_id": "The selected client id is invalid."}}
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            self.token_requests += 1
        return 200, self._ok({"token_type": "Bearer", "expires_in": 86400, "access_token": token})

    def _handle(
        self, method: str, seg: list[str], query: dict[str, list[str]], body: bytes
    ) -> Response:
        if seg == ["packages"] and method == "GET":
            limit = int((query.get("limit") or ["100"])[0])
            page = int((query.get("page") or ["1"])[0])
            last = max(1, -(-len(self.packages) // limit))
            return 200, self._ok(
                self.packages[(page - 1) * limit : page * limit], last_page=last, current_page=page
            )
        if seg == ["orders"] and method == "POST":
            return self._order(json.loads(body or b"{}"))
        if seg == ["orders"] and method == "GET":
            return self._orders_list(query)
        if seg == ["orders", "topups"] and method == "POST":
            return self._topup(_form(parse_qs(body.decode())))
        if len(seg) == 2 and seg[0] == "orders":
            with self.lock:
                order = self.orders.get(int(seg[1])) if seg[1].isdigit() else None
            return (200, self._ok(order)) if order else (404, {"message": "Not found"})
        if seg and seg[0] == "sims" and len(seg) >= 2:
            return self._sim(seg[1], seg[2] if len(seg) > 2 else "")
        if seg == ["refund"] and method == "POST":
            data = json.loads(body or b"{}")
            refund = {"refund_id": str(uuid.uuid4()), "iccids": data.get("iccids") or []}
            with self.lock:
                self.refunds.append(refund)
            return 202, self._ok({"refund_id": refund["refund_id"]})
        if seg == ["balance"]:
            with self.lock:
                amount = self.balance
            return 200, self._ok(
                {"balances": {"availableBalance": {"amount": amount, "currency": "USD"}}}
            )
        return 404, {"message": "Not found"}

    def _order(self, data: dict[str, Any]) -> Response:
        package = self.by_id.get(str(data.get("package_id")))
        if package is None:
            return 422, {"code": 34, "reason": "The package is invalid or out of stock."}
        quantity = int(data.get("quantity") or 1)
        sims: list[dict[str, Any]] = []
        for _ in range(quantity):
            with self.lock:
                iccid = str(next(self.iccids))
            matching = uuid.uuid4().hex[:20].upper()
            sims.append(
                {
                    "id": int(iccid[-6:]),
                    "iccid": iccid,
                    "lpa": "lpa.fake.airalo.test",
                    "matching_id": matching,
                    "qrcode": f"LPA:1$lpa.fake.airalo.test${matching}",
                    "direct_apple_installation_url": (
                        f"https://esimsetup.apple.com/esim_qrcode_provisioning?"
                        f"carddata=LPA:1$lpa.fake.airalo.test${matching}"
                    ),
                    "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                }
            )
        with self.lock:
            order_id = next(self.ids)
            order = {
                "id": order_id,
                "code": f"2024{order_id}-fake",
                "package_id": package["id"],
                "quantity": quantity,
                "type": "sim",
                "description": str(data.get("description") or ""),
                "esim_type": "Prepaid",
                "data": package["data"],
                "validity": package["day"],
                "price": package["price"],
                "net_price": package["net_price"],
                "currency": "USD",
                "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "status": {"name": "Completed", "slug": "completed"},
                "sims": sims,
            }
            self.orders[order_id] = order
            self.balance -= package["net_price"] * quantity
            for sim in sims:
                self.sims[str(sim["iccid"])] = {**sim, "order_id": order_id, "package": package}
        return 200, self._ok(order)

    def _topup(self, form: dict[str, Any]) -> Response:
        code = str(form.get("package_id") or "").removesuffix("-topup")
        package = self.by_id.get(code)
        iccid = str(form.get("iccid") or "")
        with self.lock:
            known = iccid in self.sims
        if package is None or not known:
            return 422, {"code": 43, "reason": "Bad request"}
        with self.lock:
            order_id = next(self.ids)
            order = {
                "id": order_id,
                "code": f"2024{order_id}-fake",
                "package_id": f"{code}-topup",
                "quantity": 1,
                "type": "topup",
                "description": str(form.get("description") or ""),
                "price": package["price"],
                "net_price": package["net_price"],
                "currency": "USD",
                "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            }
            self.orders[order_id] = order
            self.balance -= package["net_price"]
        return 200, self._ok(order)

    def _orders_list(self, query: dict[str, list[str]]) -> Response:
        with self.lock:
            orders = [o for o in self.orders.values() if o["type"] == "sim"]
        wanted = (query.get("filter[description]") or [""])[0]
        if wanted:
            orders = [o for o in orders if wanted in o["description"]]  # a substring filter
        span = (query.get("filter[created_at]") or [""])[0]
        if " - " in span:
            first, last = span.split(" - ", 1)
            orders = [o for o in orders if first <= o["created_at"][:10] <= last]
        limit = int((query.get("limit") or ["100"])[0])
        page = int((query.get("page") or ["1"])[0])
        last_page = max(1, -(-len(orders) // limit))
        return 200, self._ok(
            orders[(page - 1) * limit : page * limit], last_page=last_page, current_page=page
        )

    def _sim(self, iccid: str, part: str) -> Response:
        with self.lock:
            sim = self.sims.get(iccid)
            order = self.orders.get(sim["order_id"]) if sim else None
        if sim is None or order is None:
            return 404, {"message": "Not found"}
        package = sim["package"]
        if part == "":
            fields = ("iccid", "lpa", "matching_id", "qrcode", "direct_apple_installation_url")
            return 200, self._ok(
                {
                    **{k: sim[k] for k in fields},
                    "recycled": False,
                    "simable": {"id": order["id"], "description": order["description"]},
                }
            )
        if part == "usage":
            return 200, self._ok(
                {
                    "remaining": package["amount"],
                    "total": package["amount"],
                    "expired_at": None,
                    "is_unlimited": False,
                    "status": "NOT_ACTIVE",
                }
            )
        if part == "packages":
            return 200, self._ok(
                [
                    {
                        "id": order["id"],
                        "status": "NOT_ACTIVE",
                        "remaining": package["amount"],
                        "activated_at": None,
                        "expired_at": None,
                        "package": {"id": package["id"], "amount": package["amount"]},
                    }
                ]
            )
        if part == "topups":
            return 200, self._ok([{"id": f"{p}-topup"} for p in self.by_id])
        if part == "instructions":
            return 200, self._ok({"instructions": {"language": "EN", "ios": [], "android": []}})
        return 404, {"message": "Not found"}


class StripeApp:
    """The part of Stripe's API the gateway uses. `POST /__bench/succeed/<pi>` plays the
    customer paying (the PaymentIntent then reads `succeeded`)."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, Response] = {}
        self.lock = threading.Lock()

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> Response:
        if not str(headers.get("Authorization", "")).startswith("Bearer sk_"):
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
        form = _form(parse_qs(body.decode()))
        key = headers.get("Idempotency-Key")
        if method == "POST" and key:
            with self.lock:
                if key in self.idempotent:
                    return self.idempotent[key]
        response = self._route(method, [s for s in path.split("/") if s], query, form)
        if method == "POST" and key and response[0] < 500:
            with self.lock:
                self.idempotent[key] = response
        return response

    def _route(
        self, method: str, seg: list[str], query: dict[str, list[str]], form: dict[str, Any]
    ) -> Response:
        if seg[:1] == ["__bench"] and len(seg) == 3 and seg[1] == "succeed":
            return self._set_status(seg[2], "succeeded")
        if seg[:2] != ["v1", "payment_intents"] and seg[:2] != ["v1", "refunds"]:
            return 404, {
                "error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}
            }
        if seg == ["v1", "payment_intents"] and method == "POST":
            pi = {
                "id": f"pi_{uuid.uuid4().hex[:24]}",
                "object": "payment_intent",
                "amount": int(form.get("amount", 0)),
                "currency": form.get("currency", "usd"),
                "status": "requires_payment_method",
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
                "latest_charge": None,
                "last_payment_error": None,
                "livemode": False,
            }
            pi["client_secret"] = f"{pi['id']}_secret_{uuid.uuid4().hex[:16]}"
            with self.lock:
                self.intents[pi["id"]] = pi
            return 200, pi
        if seg == ["v1", "payment_intents"]:
            return 200, _list("/v1/payment_intents", list(self.intents.values())[-100:])
        if len(seg) == 3 and seg[1] == "payment_intents":
            intent = self.intents.get(seg[2])
            return (200, intent) if intent else _missing("payment_intent", seg[2])
        if len(seg) == 4 and seg[3] == "cancel":
            return self._set_status(seg[2], "canceled")
        if seg == ["v1", "refunds"] and method == "POST":
            paid = self.intents.get(str(form.get("payment_intent")))
            if paid is None:
                return _missing("payment_intent", str(form.get("payment_intent")))
            refund = {
                "id": f"re_{uuid.uuid4().hex[:24]}",
                "object": "refund",
                "amount": int(form.get("amount") or paid["amount"]),
                "currency": paid["currency"],
                "payment_intent": paid["id"],
                "status": "succeeded",
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
            }
            with self.lock:
                self.refunds[refund["id"]] = refund
            return 200, refund
        if seg == ["v1", "refunds"]:
            pi_id = (query.get("payment_intent") or [""])[0]
            return 200, _list(
                "/v1/refunds", [r for r in self.refunds.values() if r["payment_intent"] == pi_id]
            )
        return 404, {
            "error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}
        }

    def _set_status(self, pi_id: str, status: str) -> Response:
        with self.lock:
            pi = self.intents.get(pi_id)
            if pi is None:
                return _missing("payment_intent", pi_id)
            pi["status"] = status
            if status == "succeeded":
                pi["latest_charge"] = f"ch_{pi_id[3:]}"
        return 200, pi


def _missing(kind: str, ident: str) -> Response:
    return 404, {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": f"No such {kind}: '{ident}'",
        }
    }


def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": data}


def _form(fields: dict[str, list[str]]) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[order_id]=1`) back into nested dicts."""
    out: dict[str, Any] = {}
    for name, values in fields.items():
        if "[" in name:
            outer, inner = name.split("[", 1)
            out.setdefault(outer, {})[inner.rstrip("]").split("][")[0]] = values[-1]
        else:
            out[name] = values[-1]
    return out


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, app: EsimGoApp | AiraloApp | StripeApp) -> None:
        super().__init__(("127.0.0.1", port), FakeHandler)
        self.app = app
        self.lock = threading.Lock()
        self.log: list[tuple[float, str, str]] = []


def build(kind: str, port: int) -> FakeServer:
    apps: dict[str, type[EsimGoApp | AiraloApp | StripeApp]] = {
        "esimgo": EsimGoApp,
        "airalo": AiraloApp,
        "stripe": StripeApp,
    }
    return FakeServer(port, apps[kind]())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["esimgo", "airalo", "stripe"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    build(args.kind, args.port).serve_forever()


if __name__ == "__main__":
    main()
