from django.apps import AppConfig


class TtelgoConfig(AppConfig):
    name = "ttelgo"
    verbose_name = "Accounts and platform"
    default_auto_field = "django.db.models.BigAutoField"
