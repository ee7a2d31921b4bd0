"""Second factors enrolled before encryption: their TOTP secrets and recovery-code seeds
are encrypted in place (ttelgo/mfa.py). Rows already encrypted are left as they are, so it
can run again; backwards, the secrets are decrypted."""

from django.db import migrations

from ttelgo.mfa import authenticator_data_transform, mfa_secret_open, mfa_secret_seal


def _rewrite(apps, transform):
    Authenticator = apps.get_model("mfa", "Authenticator")
    # Locked (the migration is one transaction): a recovery code used meanwhile must not
    # have its used mark written over.
    for row in Authenticator.objects.select_for_update().only("pk", "data").iterator():
        data = authenticator_data_transform(row.data or {}, transform)
        if data != row.data:
            Authenticator.objects.filter(pk=row.pk).update(data=data)


def mfa_secrets_encrypt(apps, schema_editor):
    _rewrite(apps, mfa_secret_seal)


def mfa_secrets_decrypt(apps, schema_editor):
    _rewrite(apps, mfa_secret_open)


class Migration(migrations.Migration):
    dependencies = [
        ("ttelgo", "0011_user_language"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(mfa_secrets_encrypt, mfa_secrets_decrypt)]
