"""Operator roles as groups. Their permissions are kept in step by ttelgo.roles.roles_sync
after every migrate (so models added later are covered)."""

from django.db import migrations

ROLES = ("support", "finance", "admin")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def drop_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("ttelgo", "0005_operations"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, drop_groups)]
