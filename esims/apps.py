from django.apps import AppConfig


class EsimsConfig(AppConfig):
    name = "esims"
    default_auto_field = "django.db.models.BigAutoField"
