from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operators' console: the admin dashboard and the admin pages that span apps.
    It sits above every domain app and nothing imports it."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"
