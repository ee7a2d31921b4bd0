"""Idempotency-Key semantics (API.md): replay, reuse, in-use, scope, expiry."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory
from ttelgo.idempotency import idempotency_keys_purge
from ttelgo.models import IdempotencyKey, User

pytestmark = pytest.mark.urls("tests.core.urls_idem")
URL = "/api/v1/test/things"


def post(client, body, key="key-1", **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers, **extra)


@pytest.mark.django_db
def test_missing_key_is_a_validation_error_and_creates_nothing(api_client):
    response = post(api_client, {"email": "a@example.com"}, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "x" * 256])
def test_key_length_is_checked(api_client, bad):
    response = post(api_client, {"email": "a@example.com"}, key=bad)
    assert response.status_code == 400


@pytest.mark.django_db
def test_same_key_same_body_replays_the_stored_response(api_client):
    first = post(api_client, {"email": "a@example.com"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    # Same JSON, keys in another order and other whitespace: the same request.
    again = api_client.post(
        URL,
        data='{ "email" : "a@example.com" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_reused_422_and_creates_nothing(api_client):
    post(api_client, {"email": "a@example.com"})
    response = post(api_client, {"email": "b@example.com"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert list(User.objects.values_list("email", flat=True)) == ["a@example.com"]


@pytest.mark.django_db
def test_a_request_still_running_is_409_in_use(api_client):
    from ttelgo.idempotency import request_fingerprint  # noqa: F401

    post(api_client, {"email": "a@example.com"}, key="k-run")
    IdempotencyKey.objects.filter(key="k-run").update(
        status=IdempotencyKey.Status.IN_PROGRESS, locked_at=timezone.now()
    )
    response = post(api_client, {"email": "a@example.com"}, key="k-run")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_request_is_taken_over(api_client):
    post(api_client, {"email": "refuse@example.com"}, key="k-dead")
    IdempotencyKey.objects.filter(key="k-dead").update(
        status=IdempotencyKey.Status.IN_PROGRESS,
        locked_at=timezone.now() - timedelta(minutes=5),
    )
    response = post(api_client, {"email": "refuse@example.com"}, key="k-dead")
    assert response.status_code == 402


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_claim_whose_database_session_is_gone_is_taken_over_at_once(api_client):
    """The database restarted (or the process was killed) under a running request: its
    claim cannot be released, but its session is gone, so the client's retry runs at once
    instead of answering 409 until the claim is stale."""
    post(api_client, {"email": "refuse@example.com"}, key="k-gone")
    IdempotencyKey.objects.filter(key="k-gone").update(
        status=IdempotencyKey.Status.IN_PROGRESS, locked_at=timezone.now(), holder="999999:1"
    )
    response = post(api_client, {"email": "refuse@example.com"}, key="k-gone")
    assert response.status_code == 402
    # A claim held by a live session is still in use, and the answer says when to retry.
    IdempotencyKey.objects.filter(key="k-gone").update(
        status=IdempotencyKey.Status.IN_PROGRESS, locked_at=timezone.now()
    )
    assert IdempotencyKey.objects.get(key="k-gone").holder not in ("", "999999:1")
    busy = post(api_client, {"email": "refuse@example.com"}, key="k-gone")
    assert busy.status_code == 409
    assert busy["Retry-After"] == "1"


@pytest.mark.django_db
def test_keys_are_scoped_to_the_caller():
    alice, bob = APIClient(), APIClient()
    alice.force_authenticate(UserFactory())
    bob.force_authenticate(UserFactory())
    assert post(alice, {"email": "a@example.com"}, key="shared").status_code == 201
    response = post(bob, {"email": "b@example.com"}, key="shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_a_4xx_outcome_is_stored_and_replayed(api_client):
    first = post(api_client, {"email": "refuse@example.com"}, key="k-402")
    assert first.status_code == 402
    again = post(api_client, {"email": "refuse@example.com"}, key="k-402")
    assert again.status_code == 402
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["error"]["code"] == "insufficient_funds"


@pytest.mark.django_db
@pytest.mark.parametrize(("refused", "status"), [("nope", 400), ("x@unknown.example", 404)])
def test_a_request_refused_before_it_started_leaves_the_key_free(api_client, refused, status):
    # As Stripe: only a request that started executing stores its outcome.
    assert post(api_client, {"email": refused}, key="k-fix").status_code == status
    assert not IdempotencyKey.objects.filter(key="k-fix").exists()
    assert post(api_client, {"email": refused}, key="k-fix").status_code == status
    corrected = post(api_client, {"email": "fixed@example.com"}, key="k-fix")
    assert corrected.status_code == 201 and "Idempotent-Replayed" not in corrected
    again = post(api_client, {"email": "fixed@example.com"}, key="k-fix")
    assert again["Idempotent-Replayed"] == "true" and again.json() == corrected.json()
    assert User.objects.filter(email="fixed@example.com").count() == 1


@pytest.mark.django_db
def test_a_crash_rolls_back_and_frees_the_key():
    client = APIClient(raise_request_exception=False)
    response = post(client, {"email": "boom@example.com"}, key="k-500")
    assert response.status_code == 500
    assert not IdempotencyKey.objects.filter(key="k-500").exists()


@pytest.mark.django_db
def test_keys_expire_after_24_hours(api_client):
    post(api_client, {"email": "a@example.com"}, key="k-old")
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = post(api_client, {"email": "c@example.com"}, key="k-old")
        assert response.status_code == 201  # a fresh request, not a 422
        assert idempotency_keys_purge() == 0  # the stale one was replaced already
    with time_machine.travel(timezone.now() + timedelta(hours=50)):
        assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_create_exactly_once():
    from tests.core import urls_idem

    urls_idem.SLOW.set()
    barrier = threading.Barrier(20)

    def one(_):
        try:
            client = APIClient()
            barrier.wait()
            response = post(client, {"email": "race@example.com"}, key="k-race")
            return response.status_code, response.json(), response.get("Idempotent-Replayed")
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, range(20)))
    finally:
        urls_idem.SLOW.clear()
    assert User.objects.filter(email="race@example.com").count() == 1
    created = [r for r in results if r[0] == 201 and r[2] is None]
    replays = [r for r in results if r[0] == 201 and r[2] == "true"]
    in_use = [r for r in results if r[0] == 409]
    assert len(created) == 1
    assert len(created) + len(replays) + len(in_use) == 20
    assert all(r[1] == created[0][1] for r in replays)
    assert all(r[1]["error"]["code"] == "idempotency_key_in_use" for r in in_use)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refused_and_valid_requests_on_one_key_create_exactly_once():
    """Refused requests free the key while valid ones with the same key race for it: the
    thing is still created once, and every valid request sees that one result (or 409)."""
    from tests.core import urls_idem

    urls_idem.SLOW.set()
    barrier = threading.Barrier(20)

    def one(i):
        body = {"email": "race2@example.com" if i % 2 else "not-an-email"}
        try:
            client = APIClient()
            barrier.wait()
            response = post(client, body, key="k-race-2")
            return i % 2, response.status_code, response.json()
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, range(20)))
    finally:
        urls_idem.SLOW.clear()
    assert User.objects.filter(email="race2@example.com").count() <= 1
    valid = [(status, body) for ok, status, body in results if ok]
    created = [body for status, body in valid if status == 201]
    assert all(body == created[0] for body in created)
    # While a refused request holds the key, a valid one is told it is in use or reused.
    assert all(
        status == 201
        or body["error"]["code"] in ("idempotency_key_in_use", "idempotency_key_reused")
        for status, body in valid
    )
    after = post(APIClient(), {"email": "race2@example.com"}, key="k-race-2")
    assert after.status_code == 201
    assert User.objects.filter(email="race2@example.com").count() == 1
    assert all(body == after.json() for body in created)
    invalid = {(status, body["error"]["code"]) for ok, status, body in results if not ok}
    assert invalid <= {
        (400, "validation_error"),
        (409, "idempotency_key_in_use"),
        (422, "idempotency_key_reused"),
    }
