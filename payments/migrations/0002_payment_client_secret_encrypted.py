"""PaymentIntent client secrets are stored encrypted (ttelgo.crypto.EncryptedCharField).
Rows written before are encrypted in place, in raw SQL (the field would try to decrypt
their plaintext)."""

from django.conf import settings
from django.db import migrations

import ttelgo.crypto

PURPOSE = "ttelgo.payments.client_secret"


def encrypt_existing(apps, schema_editor):
    keys = list(getattr(settings, "ENCRYPTION_KEYS", []) or [])
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, client_secret FROM payments_payment WHERE client_secret <> ''")
        rows = cursor.fetchall()
        for pk, secret in rows:
            cursor.execute(
                "UPDATE payments_payment SET client_secret = %s WHERE id = %s",
                [ttelgo.crypto.encrypt(secret, purpose=PURPOSE, keys=keys), pk],
            )


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="payment",
            name="client_secret",
            field=ttelgo.crypto.EncryptedCharField(blank=True, max_length=512, purpose=PURPOSE),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
