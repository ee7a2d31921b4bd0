"""Bulk orders from a CSV file: every bad row named (line, column, why) and nothing placed
until the file is clean; then one job (on the provisioning queue, or test's) places each
row once under its key, with progress and a results CSV; the same file uploaded again
places nothing twice."""

from __future__ import annotations

import csv
import io
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.models import Order
from portal.models import BulkOrder
from portal.modes import SESSION_KEY
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund
from ttelgo.outbox import task_enqueue
from vendors.models import Vendor, VendorUser

pytestmark = pytest.mark.django_db
HEADER = "bundle,quantity,customer_email,language,reference\n"


@pytest.fixture
def shop():
    bundles_create()
    vendor = Vendor.objects.create(name="Roamly", status="active", currency="USD")
    fund(vendor, 100_000)
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    return vendor, client


def _upload(client, text: str, name: str = "orders.csv"):
    upload = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(reverse("portal:bulk-orders"), {"file": upload})


def test_every_bad_row_is_named_and_nothing_is_placed(shop):
    _vendor, client = shop
    text = HEADER + (
        f"{BUNDLE_CODE},1,ana@example.com,es,BK-1\n"
        "esim_NOPE,1,,en,BK-2\n"
        f"{BUNDLE_CODE},0,bad@,en,BK-3\n"
        f"{BUNDLE_CODE},2,,xx,BK-4\n"
    )
    answer = _upload(client, text)
    assert answer.status_code == 400
    named = [(e.line, e.column) for e in answer.context["errors"]]
    assert named == [
        (3, "bundle"),
        (4, "quantity"),
        (4, "customer_email"),
        (5, "language"),
    ]
    assert "No bundle esim_NOPE on sale." in answer.content.decode()
    assert Order.objects.count() == 0 and BulkOrder.objects.count() == 0


def test_a_missing_column_an_empty_file_and_too_many_rows_are_refused(shop):
    _vendor, client = shop
    missing = _upload(client, "bundle,qty\nx,1\n")
    assert [(e.line, e.column) for e in missing.context["errors"]] == [
        (1, "quantity"),
        (1, "qty"),
    ]
    assert _upload(client, HEADER).context["errors"][0].why == "The file has no rows."
    many = _upload(client, HEADER + f"{BUNDLE_CODE},1,,,\n" * 1001)
    assert many.context["errors"][0].why == "At most 1,000 rows a file."
    assert Order.objects.count() == 0


def test_a_file_the_wallet_cannot_pay_is_refused_whole_but_its_placed_rows_cost_nothing_again(
    shop, django_capture_on_commit_callbacks
):
    poor = Vendor.objects.create(name="Poor", status="active", currency="USD")
    fund(poor, 500)
    member = VendorUser.objects.create(vendor=poor, user=UserFactory(), role="owner")
    as_poor = Client()
    as_poor.force_login(member.user)
    answer = _upload(as_poor, HEADER + f"{BUNDLE_CODE},1,,,\n{BUNDLE_CODE},1,,,\n")
    assert answer.status_code == 400 and "Top up first" in answer.content.decode()
    assert Order.objects.count() == 0
    # A file the wallet could pay once, placed, then uploaded again: the wallet is nearly
    # empty now, but its rows replay their orders, so it is not refused for funds.
    one_row = HEADER + f"{BUNDLE_CODE},1,,,R-1\n"
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(as_poor, one_row).status_code == 302
    assert Order.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        again = _upload(as_poor, one_row, name="again.csv")
    assert again.status_code == 302 and Order.objects.count() == 1


def test_a_clean_file_is_placed_by_one_job_with_progress_and_results_and_once_only(
    shop, django_capture_on_commit_callbacks
):
    vendor, client = shop
    text = HEADER + "".join(f"{BUNDLE_CODE},1,,en,BK-{i}\n" for i in range(5))
    text += f"{TOPUP_CODE},2,ana@example.com,es,BK-5\n"
    with (
        mock.patch("portal.bulk.task_enqueue", wraps=task_enqueue) as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = _upload(client, text)
    job = BulkOrder.objects.get()
    assert answer["Location"] == reverse("portal:bulk-order", args=[job.pk])
    queued.assert_called_once_with("portal.tasks.bulk_order_place", job.pk, queue="provisioning")
    assert job.status == "done" and job.done == job.total == 6
    progress = client.get(reverse("portal:bulk-order", args=[job.pk]), {"format": "json"})
    assert progress.json() == {"status": "done", "done": 6, "total": 6, "percent": 100}
    orders = Order.objects.filter(vendor=vendor)
    assert orders.count() == 6 and sum(o.esims.count() for o in orders) == 7
    results = client.get(reverse("portal:bulk-order", args=[job.pk]), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(results.content.decode())))
    assert [r["line"] for r in rows] == ["2", "3", "4", "5", "6", "7"]
    last = rows[-1]
    topup_order = orders.get(customer_reference="BK-5")
    assert last["order_id"] == str(topup_order.pk) and last["status"] == "completed"
    assert len(last["iccids"].split(";")) == 2 and last["page_urls"].count("/e/") == 2
    assert topup_order.end_customer_email == "ana@example.com"
    # The same file again: a second job whose rows replay the same orders.
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, text, name="again.csv")
    assert Order.objects.count() == 6 and BulkOrder.objects.count() == 2
    again = BulkOrder.objects.get(filename="again.csv")
    assert {r["order_id"] for r in again.results.values()} == {o.pk for o in orders}
    assert all(r["replayed"] for r in again.results.values())


@pytest.mark.django_db(transaction=True)
def test_a_re_upload_with_real_commits_replays_every_row_without_waiting_on_its_key(shop):
    """As the live site runs it (each claim and completion committed, the job started after
    the upload's commit): the first upload's keys are completed, so the same file again
    replays each row at once; none is taken for a row another upload is still placing."""
    vendor, client = shop
    text = HEADER + "".join(f"{BUNDLE_CODE},1,,en,BK-{i}\n" for i in range(12))
    assert _upload(client, text).status_code == 302
    first = BulkOrder.objects.get()
    assert first.status == "done" and len(first.results) == 12
    with mock.patch("portal.bulk.time", wraps=time) as paused:
        again = _upload(client, text, name="again.csv")
    assert again.status_code == 302
    assert paused.sleep.call_count == 0
    second = BulkOrder.objects.get(filename="again.csv")
    assert second.status == "done" and second.done == 12
    assert second.results == {
        line: {"order_id": r["order_id"], "replayed": True} for line, r in first.results.items()
    }
    assert Order.objects.filter(vendor=vendor).count() == 12


def test_a_row_refused_while_placing_is_recorded_and_the_others_go_on(
    shop, django_capture_on_commit_callbacks
):
    _vendor, client = shop
    text = HEADER + f"{BUNDLE_CODE},1,,,A\n{BUNDLE_CODE},1,,,B\n"
    # The bundle goes off sale between the check and the job's second row.
    from orders import services

    real = services.order_create_b2b
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            from ttelgo.errors import DomainError

            raise DomainError("bundle_unavailable", "Bundle is not available.")
        return real(**kwargs)

    with (
        mock.patch("portal.bulk.order_create_b2b", side_effect=flaky),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _upload(client, text)
    job = BulkOrder.objects.get()
    assert job.results["3"] == {"error": "Bundle is not available.", "code": "bundle_unavailable"}
    assert Order.objects.count() == 1
    page = client.get(reverse("portal:bulk-order", args=[job.pk])).content.decode()
    assert "1 row refused" in page


def test_test_mode_files_go_to_the_test_queue_with_play_money(
    shop, django_capture_on_commit_callbacks
):
    vendor, client = shop
    session = client.session
    session[SESSION_KEY] = True
    session.save()
    with (
        mock.patch("portal.bulk.task_enqueue", wraps=task_enqueue) as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _upload(client, HEADER + f"{BUNDLE_CODE},1,,,T-1\n")
    job = BulkOrder.objects.get()
    assert job.livemode is False and job.vendor != vendor
    queued.assert_called_once_with("portal.tasks.bulk_order_place", job.pk, queue="test")
    assert Order.objects.get().livemode is False
    # Another vendor (and live mode) does not see the test job.
    session[SESSION_KEY] = False
    session.save()
    assert client.get(reverse("portal:bulk-order", args=[job.pk])).status_code == 404


def test_another_vendors_job_is_not_found_and_a_viewer_cannot_upload(shop):
    vendor, client = shop
    other = Vendor.objects.create(name="Other", status="active", currency="USD")
    job = BulkOrder.objects.create(vendor=other, livemode=True, file_sha256="x", rows=[])
    assert client.get(reverse("portal:bulk-order", args=[job.pk])).status_code == 404
    viewer = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="viewer")
    as_viewer = Client()
    as_viewer.force_login(viewer.user)
    refused = _upload(as_viewer, HEADER + f"{BUNDLE_CODE},1,,,\n")
    assert refused.status_code == 400 and "may not do this" in refused.content.decode()
    assert Order.objects.count() == 0
