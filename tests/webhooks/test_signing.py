from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.crypto import secret_decrypt, secret_encrypt, secret_generate
from webhooks.signing import sign_headers


def test_signature_reproduces_the_standard_webhooks_published_test_vector():
    # The example in the Standard Webhooks specification (and its reference libraries).
    headers = sign_headers(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=datetime.fromtimestamp(1614265330, tz=UTC),
        body='{"test": 2432232314}',
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"


def test_our_headers_verify_with_the_standardwebhooks_library_and_tampering_fails():
    secret = secret_generate()
    body = '{"id":"msg_1","type":"order.completed","data":{"order_id":1}}'
    headers = sign_headers(secret=secret, msg_id="msg_1", timestamp=datetime.now(UTC), body=body)
    assert Webhook(secret).verify(body, headers) == {
        "id": "msg_1",
        "type": "order.completed",
        "data": {"order_id": 1},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("1}", "2}"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)


def test_generated_secrets_are_whsec_prefixed_unique_and_round_trip_encrypted():
    a, b = secret_generate(), secret_generate()
    assert a.startswith("whsec_") and a != b
    token = secret_encrypt(a)
    assert a not in token and a.removeprefix("whsec_") not in token
    assert secret_decrypt(token) == a
