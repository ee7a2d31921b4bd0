from django.apps import AppConfig


class TtelgoConfig(AppConfig):
    name = "ttelgo"
    verbose_name = "Accounts and platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from ttelgo.roles import roles_sync_after_migrate

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="ttelgo-roles")
