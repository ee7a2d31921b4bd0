"""eSIM Go v2.4 payloads used by the client tests (shapes from the published schema)."""

from __future__ import annotations

BASE = "https://api.esim-go.test/v2.4"
KEY = "test-esimgo-key"

ITEM_GB = {
    "name": "esim_1GB_7D_GB_V2",
    "description": "eSIM, 1GB, 7 Days, United Kingdom, V2",
    "groups": ["Standard Fixed"],
    "countries": [{"name": "United Kingdom", "region": "Europe", "iso": "GB"}],
    "roamingEnabled": [],
    "dataAmount": 1000,
    "duration": 7,
    "speed": ["4G", "5G"],
    "autostart": True,
    "unlimited": False,
    "price": 1.235,
    "billingType": "FixedCost",
}
ITEM_UL = {
    **ITEM_GB,
    "name": "esim_UL_3D_FR_V2",
    "description": "Unlimited France",
    "countries": [{"name": "France", "region": "Europe", "iso": "FR"}],
    "dataAmount": -1,
    "duration": 3,
    "unlimited": True,
    "price": 9.5,
}


TRANSACTION = {
    "order": [
        {
            "esims": [
                {
                    "iccid": "8944500000000000001",
                    "matchingId": "AAA-1",
                    "smdpAddress": "rsp.esim-go.com",
                },
                {
                    "iccid": "8944500000000000002",
                    "matchingId": "AAA-2",
                    "smdpAddress": "rsp.esim-go.com",
                },
            ],
            "type": "bundle",
            "item": "esim_1GB_7D_GB_V2",
            "iccids": [],
            "quantity": 2,
            "subTotal": 2.47,
            "pricePerUnit": 1.235,
        }
    ],
    "total": 2.47,
    "currency": "USD",
    "status": "Completed",
    "statusMessage": "Order completed",
    "orderReference": "f0e6a1b2-ref",
    "createdDate": "2026-11-21T10:00:00Z",
    "assigned": True,
    "sourceIP": "127.0.0.1",
}


def item(name: str, **extra) -> dict:
    return {**ITEM_GB, "name": name, **extra}
