"""The ids the portal shows for orders: "ord_" and 13 letters and digits, as Stripe shows
ids rather than counters. The API keeps its integer ids (its contract); the portal shows
this keyed permutation of them instead, so test and live orders, which share one table,
do not show one running sequence (nor how many orders the platform takes).

A four-round Feistel network over the 64-bit id, each round an HMAC of SECRET_KEY: a
bijection, so an id decodes back to exactly one order (which the page still looks up
within the member's vendor), and neighbours' ids look unrelated."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

PREFIX = "ord_"
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base 32, lower case
LENGTH = 13  # 65 bits
ROUNDS = 4
MASK32 = 0xFFFFFFFF
PATTERN = PREFIX + "[0-9a-hjkmnp-tv-z]{13}"


def _round(key: bytes, number: int, half: int) -> int:
    digest = hmac.new(key, bytes([number]) + half.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def _key() -> bytes:
    return hmac.new(
        settings.SECRET_KEY.encode(), b"ttelgo.portal.public_order_id", hashlib.sha256
    ).digest()


def order_public_id(pk: int) -> str:
    """The order's id in the portal, e.g. "ord_5k2m9x0c7rq1d"."""
    if not 0 < pk < 2**64:
        raise ValueError(f"no public id for {pk!r}")
    key, left, right = _key(), pk >> 32, pk & MASK32
    for number in range(ROUNDS):
        left, right = right, left ^ _round(key, number, right)
    value = (left << 32) | right
    letters = []
    for _ in range(LENGTH):
        value, digit = divmod(value, 32)
        letters.append(ALPHABET[digit])
    return PREFIX + "".join(reversed(letters))


def order_pk_from_public_id(public_id: str) -> int | None:
    """The order id behind a public id; None for anything that is not one."""
    text = public_id.lower()
    if not text.startswith(PREFIX) or len(text) != len(PREFIX) + LENGTH:
        return None
    value = 0
    for char in text[len(PREFIX) :]:
        digit = ALPHABET.find(char)
        if digit < 0:
            return None
        value = value * 32 + digit
    if value >= 2**64:
        return None
    key, left, right = _key(), value >> 32, value & MASK32
    for number in reversed(range(ROUNDS)):
        left, right = right ^ _round(key, number, left), left
    pk = (left << 32) | right
    return pk or None


class OrderIdConverter:
    """`<order:order_id>` in the portal's URLs: the public id in the path, the order's
    integer id for the view (and `{% url %}` takes either)."""

    regex = PATTERN

    def to_python(self, value: str) -> int:
        pk = order_pk_from_public_id(value)
        if pk is None:
            raise ValueError(value)
        return pk

    def to_url(self, value: int | str) -> str:
        if isinstance(value, str) and value.startswith(PREFIX):
            return value
        return order_public_id(int(value))
