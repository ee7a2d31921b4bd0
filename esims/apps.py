from django.apps import AppConfig


class EsimsConfig(AppConfig):
    """Migrations only (see the package docstring): no models, no code."""

    name = "esims"
    default_auto_field = "django.db.models.BigAutoField"
