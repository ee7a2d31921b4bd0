"""Refresh tokens already issued are kept as their SHA-256 only (ttelgo/tokens.py)."""

import hashlib

from django.db import migrations


def hash_existing(apps, schema_editor):
    OutstandingToken = apps.get_model("token_blacklist", "OutstandingToken")
    for row in OutstandingToken.objects.exclude(token__startswith="sha256:").iterator():
        digest = "sha256:" + hashlib.sha256(row.token.encode()).hexdigest()
        OutstandingToken.objects.filter(pk=row.pk).update(token=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("ttelgo", "0008_idempotencykey_holder"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [migrations.RunPython(hash_existing, migrations.RunPython.noop)]
