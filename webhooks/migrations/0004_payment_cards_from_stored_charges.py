"""Fraud rules now read the paying card from the payment (payments 0003); fill it in for
payments made before, from the charge events we stored."""

from django.db import migrations

CHARGE_EVENTS = ("charge.succeeded", "charge.updated", "charge.captured")


def cards_backfill(apps, schema_editor):
    InboundEvent = apps.get_model("webhooks", "InboundEvent")
    Payment = apps.get_model("payments", "Payment")
    events = (
        InboundEvent.objects.filter(source="stripe", event_type__in=CHARGE_EVENTS)
        .order_by("received_at", "id")
        .values_list("payload", flat=True)
    )
    for payload in events.iterator(chunk_size=1000):
        charge = (payload.get("data") or {}).get("object") or {}
        card = (charge.get("payment_method_details") or {}).get("card") or {}
        intent = charge.get("payment_intent")
        if isinstance(intent, dict):
            intent = intent.get("id")
        if not intent or not (card.get("fingerprint") or card.get("country")):
            continue
        Payment.objects.filter(payment_intent_id=str(intent)).update(
            card_fingerprint=str(card.get("fingerprint") or "")[:64],
            card_country=str(card.get("country") or "").upper()[:2],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_webhookdelivery_vendor"),
        ("payments", "0003_payment_card"),
    ]

    operations = [migrations.RunPython(cards_backfill, migrations.RunPython.noop)]
