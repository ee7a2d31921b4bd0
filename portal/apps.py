from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The vendor portal: server-rendered pages for vendors' staff (/portal/)."""

    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"
    # Its bulk order files are vendors' data operators may look at.
    operated = True
