"""Customer auth: register, token, refresh with rotation and blacklist, /me."""

import pytest

from ttelgo.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


def register(client, email="new@example.com", password=PASSWORD):
    return client.post(
        "/api/v1/auth/register", {"email": email, "password": password}, format="json"
    )


def test_register_creates_an_account(api_client):
    response = register(api_client, email="New@Example.com")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com"
    assert set(body) == {"id", "email"}
    assert User.objects.get(id=body["id"]).check_password(PASSWORD)


def test_weak_password_is_refused(api_client):
    response = register(api_client, password="12345")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "password" in response.json()["error"]["details"]
    assert not User.objects.exists()


def test_taken_email_is_refused(api_client):
    assert register(api_client).status_code == 201
    response = register(api_client, email="NEW@example.com")
    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]
    assert User.objects.count() == 1


def login(client, email="new@example.com", password=PASSWORD):
    return client.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")


def test_token_and_me(api_client):
    register(api_client)
    tokens = login(api_client).json()
    assert set(tokens) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.com"


def test_wrong_password_is_not_authenticated(api_client):
    register(api_client)
    response = login(api_client, password="not-the-password")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_refresh_rotates_and_the_old_refresh_token_is_refused(api_client):
    register(api_client)
    first = login(api_client).json()
    rotated = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]

    replay = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "not_authenticated"

    again = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh": second["refresh"]}, format="json"
    )
    assert again.status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_refreshes_of_one_token_let_exactly_one_through():
    import threading
    from collections import Counter

    from django.db import connection
    from rest_framework.test import APIClient

    client = APIClient()
    register(client)
    refresh = login(client).json()["refresh"]
    barrier = threading.Barrier(10)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=30)
            response = APIClient().post(
                "/api/v1/auth/token/refresh", {"refresh": refresh}, format="json"
            )
            with lock:
                statuses[response.status_code] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == {200: 1, 401: 9}, statuses


def test_issued_refresh_tokens_are_stored_as_digests_only(api_client):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    register(api_client)
    first = login(api_client).json()["refresh"]
    second = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh": first}, format="json"
    ).json()["refresh"]
    stored = list(OutstandingToken.objects.values_list("token", flat=True))
    assert len(stored) == 2
    assert all(t.startswith("sha256:") for t in stored)
    assert first not in stored and second not in stored
    # Rotation still refuses the old one.
    replay = api_client.post("/api/v1/auth/token/refresh", {"refresh": first}, format="json")
    assert replay.status_code == 401
