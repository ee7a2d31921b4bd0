"""A request-log line the database cannot take costs that line only: one vendor's body with
a lone surrogate or a NUL never erases another vendor's lines from the same batch, and a
line that cannot be stored is counted in `request_log_lines_lost_total`."""

from __future__ import annotations

import os
from collections import deque

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.vendors.factories import vendor_with_key
from vendors import request_log
from vendors.models import ApiRequestLog
from vendors.request_log import writer

# A lone surrogate and a NUL, as JSON escapes: valid JSON, text PostgreSQL cannot store.
HOSTILE_BODY = '{"bundle_code": "\\ud800", "customer_reference": "a\\u0000b"}'


def _lost(reason: str) -> float:
    return REGISTRY.get_sample_value("request_log_lines_lost_total", {"reason": reason}) or 0.0


def _one_batch(victim_key: str, hostile_key: str) -> None:
    """30 requests of the victim and one hostile request, noted by the middleware and
    written by the background writer as one batch."""
    victim = Client(HTTP_AUTHORIZATION=f"Api-Key {victim_key}")
    hostile = Client(HTTP_AUTHORIZATION=f"Api-Key {hostile_key}")
    with override_settings(API_REQUEST_LOG_FLUSH_SECONDS=3600.0):
        writer.stop()  # a thread started by another test would not see this setting
        try:
            for i in range(15):
                assert victim.get("/api/v1/vendor/balance", {"n": i}).status_code == 200
            answered = hostile.post(
                "/api/v1/vendor/orders",
                HOSTILE_BODY,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="hostile-1",
            )
            assert answered.status_code < 500
            for i in range(15, 30):
                assert victim.get("/api/v1/vendor/balance", {"n": i}).status_code == 200
            assert len(writer.notes) == 31  # nothing written yet: one batch
        finally:
            writer.stop()  # writes the batch


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_body_postgres_cannot_store_costs_no_other_vendors_line():
    victim, victim_key = vendor_with_key()
    hostile, hostile_key = vendor_with_key()
    _one_batch(victim_key, hostile_key)
    assert ApiRequestLog.objects.filter(vendor=victim).count() == 30
    # The hostile line itself is kept too, with the unstorable characters replaced.
    line = ApiRequestLog.objects.get(vendor=hostile)
    assert line.method == "POST" and "\ufffd" in line.request_body
    assert "\x00" not in line.request_body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_line_the_database_refuses_is_counted_and_costs_only_itself(monkeypatch):
    monkeypatch.setattr(request_log, "storable", lambda text: text)  # as if it missed one
    victim, victim_key = vendor_with_key()
    hostile, hostile_key = vendor_with_key()
    refused = _lost("refused")
    _one_batch(victim_key, hostile_key)
    assert ApiRequestLog.objects.filter(vendor=victim).count() == 30
    assert not ApiRequestLog.objects.filter(vendor=hostile).exists()
    assert _lost("refused") == refused + 1


def test_unstorable_text_becomes_a_replacement_character():
    assert request_log.storable("a\x00b\ud800c\U0001f600") == "a\ufffdb\ufffdc\U0001f600"


def _note(vendor_id: int = 1) -> request_log.Note:
    return request_log.Note(
        vendor_id=vendor_id,
        key_prefix="ttg_live_x",
        at=timezone.now(),
        method="GET",
        path="/api/v1/vendor/balance",
        query="",
        status=200,
        latency_ms=1,
        request_id="r",
        idempotency_key="",
        request_body=b"",
        response_body=b"",
        json_response=True,
    )


@pytest.mark.django_db
def test_lines_lost_to_an_unreachable_database_or_a_full_buffer_are_counted(monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(ApiRequestLog.objects, "bulk_create", down)
    unavailable = _lost("unavailable")
    assert request_log.notes_write([_note(), _note()]) == 0
    assert _lost("unavailable") == unavailable + 2  # and no line-by-line retry against it

    monkeypatch.setattr(request_log, "BUFFER_LIMIT", 2)
    buffer = request_log._Writer()
    buffer.notes = deque(maxlen=2)
    buffer.pid = os.getpid()  # as if its thread ran: add() starts none
    full = _lost("buffer_full")
    for _ in range(3):
        buffer.add(_note())
    assert len(buffer.notes) == 2 and _lost("buffer_full") == full + 1
