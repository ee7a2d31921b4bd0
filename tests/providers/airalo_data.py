"""Airalo Partner API v2 shapes, as its docs and SDKs show them."""

from __future__ import annotations

from typing import Any

BASE = "https://airalo.test/v2"
CLIENT_ID = "client-id"
SECRET = "client-secret"


def token_answer(token: str = "tok-1", expires_in: int = 31622400) -> dict[str, Any]:  # noqa: S107
    return {
        "data": {"token_type": "Bearer", "expires_in": expires_in, "access_token": token},
        "meta": {"message": "success"},
    }


def package(
    pid: str = "change-7days-1gb",
    *,
    price: str = "4.50",
    net: str | None = "3.60",
    amount: int = 1024,
    day: int = 7,
    unlimited: bool = False,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "sim",
        "price": price,
        "net_price": net,
        "amount": amount,
        "day": day,
        "is_unlimited": unlimited,
        "title": "1 GB - 7 Days",
        "data": "1 GB",
        "short_info": None,
        "voice": None,
        "text": None,
        "prices": {
            "net_price": {"USD": net} if net is not None else {},
            "recommended_retail_price": {"USD": price},
        },
    }


def country(
    code: str, packages: list[dict[str, Any]], *, slug: str = "", title: str = ""
) -> dict[str, Any]:
    return {
        "slug": slug or code.lower(),
        "country_code": code,
        "title": title or code,
        "image": {},
        "operators": [
            {
                "id": 1,
                "title": "Change",
                "type": "local",
                "is_roaming": True,
                "rechargeability": True,
                "activation_policy": "first-usage",
                "countries": [{"country_code": code, "title": title or code}]
                if code
                else [
                    {"country_code": "FR", "title": "France"},
                    {"country_code": "DE", "title": "Germany"},
                ],
                "packages": packages,
            }
        ],
    }


def sim(iccid: str = "8944465400000000001") -> dict[str, Any]:
    return {
        "id": 11,
        "created_at": "2026-12-07 10:00:00",
        "iccid": iccid,
        "lpa": "lpa.airalo.com",
        "matching_id": "MATCH-1",
        "qrcode": "LPA:1$lpa.airalo.com$MATCH-1",
        "qrcode_url": "https://airalo.test/qr.png",
        "direct_apple_installation_url": "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$lpa.airalo.com$MATCH-1",
        "apn_type": "automatic",
        "is_roaming": True,
    }


def order(
    oid: int = 9666,
    *,
    description: str = "ttelgo-order-1",
    quantity: int | str = 1,
    sims: list[dict[str, Any]] | None = None,
    package_id: str = "change-7days-1gb",
) -> dict[str, Any]:
    return {
        "id": oid,
        "code": "20261207-009666",
        "currency": "USD",
        "package_id": package_id,
        "quantity": quantity,
        "type": "sim",
        "description": description,
        "esim_type": "Prepaid",
        "validity": "7",
        "package": "Change-1 GB - 7 Days",
        "data": "1 GB",
        "price": "4.50",
        "net_price": "3.60",
        "created_at": "2026-12-07 10:00:00",
        "sims": [sim()] if sims is None else sims,
    }
