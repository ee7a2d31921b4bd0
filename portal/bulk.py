"""Bulk orders from a CSV file: `bundle, quantity, customer_email, language, reference`,
up to 1,000 rows. The file is validated whole first (every bad row named by line, column
and why; nothing is placed until it is clean), then placed by one job, each row through
the API's order service under its own idempotency key: the file's hash and the row's
line. The same file uploaded again replays those orders and places nothing twice."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.selectors import vendor_balance
from catalogue.models import Bundle
from catalogue.pricing import vendor_price
from catalogue.selectors import bundle_sellable_qs
from fulfilment.links import esim_page_url
from fulfilment.sale import order_create_b2b
from orders.models import Order
from orders.services import MAX_QUANTITY
from portal.models import BulkOrder
from portal.state import BULK_ORDER_STATES
from ttelgo.errors import DomainError
from ttelgo.idempotency import idempotent_run
from ttelgo.models import IdempotencyKey
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.queues import PROVISIONING, queue_for
from ttelgo.state import transition_rows
from ttelgo.validators import SendableEmailFormField
from vendors.members import member_require
from vendors.models import VendorUser

MAX_ROWS = 1_000
# How long a row waits for the same row of another upload of the file (seconds).
IN_USE_WAITS, IN_USE_PAUSE = 50, 0.2
MAX_BYTES = 512 * 1024
COLUMNS = ("bundle", "quantity", "customer_email", "language", "reference")
REQUIRED = ("bundle", "quantity")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    why: str


@dataclass
class Checked:
    rows: list[dict[str, Any]]
    errors: list[RowError]
    total: Money | None = None
    sha256: str = ""


def bulk_order_check(*, member: VendorUser, content: bytes) -> Checked:
    """The file's rows as they would be ordered, or every problem in it. Lines count as a
    spreadsheet shows them (the header is line 1)."""
    member_require(member, "orders.manage")
    sha = hashlib.sha256(content).hexdigest()
    if len(content) > MAX_BYTES:
        return Checked([], [RowError(0, "", f"The file is over {MAX_BYTES // 1024} KB.")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Checked([], [RowError(0, "", "The file is not UTF-8 text (save it as CSV UTF-8).")])
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    errors = [RowError(1, c, "This column is missing.") for c in missing]
    errors += [RowError(1, h, f"Unknown column; use {', '.join(COLUMNS)}.") for h in unknown]
    if errors:
        return Checked([], errors)
    raw = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if not raw:
        return Checked([], [RowError(2, "", "The file has no rows.")])
    if len(raw) > MAX_ROWS:
        return Checked([], [RowError(MAX_ROWS + 2, "", f"At most {MAX_ROWS:,} rows a file.")])
    codes = {row.get("bundle", "") for row in raw}
    bundles = {b.code: b for b in bundle_sellable_qs().filter(code__in=codes)}
    languages = {code for code, _name in settings.LANGUAGES}
    rows: list[dict[str, Any]] = []
    total = 0
    # Rows of this same file placed before replay their orders: they cost nothing again.
    placed = _lines_placed(member, sha)
    for index, row in enumerate(raw):
        line = index + 2
        problems = _row_problems(row, bundles, languages)
        errors += [RowError(line, column, why) for column, why in problems]
        if problems:
            continue
        bundle = bundles[row["bundle"]]
        quantity = int(row["quantity"])
        if line not in placed:
            total += vendor_price(vendor=member.vendor, bundle=bundle).amount * quantity
        rows.append(
            {
                "line": line,
                "bundle_code": bundle.code,
                "quantity": quantity,
                "customer_email": row.get("customer_email", ""),
                "customer_language": row.get("language", "") or "en",
                "customer_reference": row.get("reference", ""),
            }
        )
    if errors:
        return Checked([], errors)
    amount = Money(total, member.vendor.currency)
    available = vendor_balance(vendor=member.vendor).available
    if available.amount < total:
        why = f"The file costs {amount}; {available} is available. Top up first."
        return Checked([], [RowError(0, "", why)], total=amount)
    return Checked(rows, [], total=amount, sha256=sha)


def _row_key(sha: str, line: int | str) -> str:
    return f"bulk:{sha}:{line}"


def _lines_placed(member: VendorUser, sha: str) -> set[int]:
    prefix = _row_key(sha, "")
    keys = IdempotencyKey.objects.filter(
        scope=f"vendor:{member.vendor.pk}",
        key__startswith=prefix,
        status=IdempotencyKey.Status.COMPLETED,
    ).values_list("key", flat=True)
    return {int(key[len(prefix) :]) for key in keys}


def _row_problems(
    row: dict[str, str], bundles: dict[str, Bundle], languages: set[str]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    code = row.get("bundle", "")
    if not code:
        problems.append(("bundle", "Required."))
    elif code not in bundles:
        problems.append(("bundle", f"No bundle {code[:100]} on sale."))
    quantity = row.get("quantity", "")
    if not quantity.isdigit() or not 1 <= int(quantity) <= MAX_QUANTITY:
        problems.append(("quantity", f"A whole number from 1 to {MAX_QUANTITY}."))
    email = row.get("customer_email", "")
    if email:
        try:
            SendableEmailFormField().clean(email)
        except ValidationError:
            problems.append(("customer_email", "Not an email address we can send to."))
    language = row.get("language", "")
    if language and language not in languages:
        problems.append(("language", f"One of {', '.join(sorted(languages))}."))
    if len(row.get("reference", "")) > 255:
        problems.append(("reference", "At most 255 characters."))
    return problems


def bulk_order_start(*, member: VendorUser, checked: Checked, filename: str = "") -> BulkOrder:
    """Record a clean file and queue its job (through the outbox, with the record): live
    files on the provisioning queue, test-mode files on the test queue."""
    member_require(member, "orders.manage")
    if checked.errors or not checked.rows:
        raise DomainError("validation_error", "The file is not clean; nothing was placed.")
    with transaction.atomic():
        bulk = BulkOrder.objects.create(
            vendor=member.vendor,
            livemode=member.vendor.livemode,
            uploaded_by=member.user,
            filename=filename[:255],
            file_sha256=checked.sha256,
            rows=checked.rows,
        )
        task_enqueue(
            "portal.tasks.bulk_order_place",
            bulk.pk,
            queue=queue_for(PROVISIONING, livemode=bulk.livemode),
        )
    return bulk


def bulk_order_place(*, bulk_id: int) -> BulkOrder:
    """Place every row not placed yet, each once under its key (`bulk:<sha256>:<line>`),
    counting progress as it goes. A row refused (funds ran out, a bundle went off sale)
    is recorded with why; the others go on. Safe to run again: placed rows replay."""
    bulk = BulkOrder.objects.select_related("vendor").get(pk=bulk_id)
    transition_rows(
        BulkOrder.objects.filter(pk=bulk.pk),
        table=BULK_ORDER_STATES,
        to=BulkOrder.Status.RUNNING,
        expected=BulkOrder.Status.QUEUED,
    )
    results: dict[str, Any] = dict(bulk.results)
    for row in bulk.rows:
        line = str(row["line"])
        if line in results:
            continue
        payload = {k: v for k, v in row.items() if k != "line"}

        def run(payload: dict[str, Any] = payload) -> dict[str, Any]:
            return {"order_id": order_create_b2b(vendor=bulk.vendor, **payload).pk}

        try:
            result, replayed = _row_place(bulk, line, payload, run)
            results[line] = {"order_id": result["order_id"], "replayed": replayed}
        except DomainError as exc:
            results[line] = {"error": exc.message, "code": exc.code}
        BulkOrder.objects.filter(pk=bulk.pk).update(results=results, done=F("done") + 1)
    transition_rows(
        BulkOrder.objects.filter(pk=bulk.pk),
        table=BULK_ORDER_STATES,
        to=BulkOrder.Status.DONE,
        expected=BulkOrder.Status.RUNNING,
        finished_at=timezone.now(),
        done=len(bulk.rows),
    )
    bulk.refresh_from_db()
    return bulk


def _row_place(
    bulk: BulkOrder, line: str, payload: dict[str, Any], run: Any
) -> tuple[dict[str, Any], bool]:
    """One row under its key. While the same row of the same file is being placed by
    another upload's job, wait for it (its order is this row's too)."""
    for _attempt in range(IN_USE_WAITS):
        try:
            return idempotent_run(
                scope=f"vendor:{bulk.vendor_id}",
                key=_row_key(bulk.file_sha256, line),
                path="portal:bulk-order",
                payload=payload,
                run=run,
            )
        except DomainError as exc:
            if exc.code != "idempotency_key_in_use":
                raise
            time.sleep(IN_USE_PAUSE)
    raise DomainError("idempotency_key_in_use", "Another upload of this file is placing this row.")


def bulk_order_results(bulk: BulkOrder) -> list[list[Any]]:
    """Row -> order -> ICCIDs -> install page URLs, in the file's order."""
    ids = [r["order_id"] for r in bulk.results.values() if "order_id" in r]
    orders = {
        o.pk: o
        for o in Order.objects.filter(pk__in=ids, vendor=bulk.vendor).prefetch_related("esims")
    }
    lines = []
    for row in bulk.rows:
        result = bulk.results.get(str(row["line"]), {})
        order = orders.get(result.get("order_id"))
        esims = list(order.esims.all()) if order else []
        lines.append(
            [
                row["line"],
                row["bundle_code"],
                row["quantity"],
                row["customer_reference"],
                order.pk if order else "",
                order.status if order else ("refused" if "error" in result else "pending"),
                ";".join(e.iccid for e in esims),
                " ".join(esim_page_url(e) for e in esims),
                result.get("error", ""),
            ]
        )
    return lines


RESULT_COLUMNS = [
    "line",
    "bundle",
    "quantity",
    "reference",
    "order_id",
    "status",
    "iccids",
    "page_urls",
    "error",
]
