from django.apps import AppConfig


class IotConfig(AppConfig):
    name = "iot"
    verbose_name = "IoT SIM fleets"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators' to look after: every operator role may view it.
    operated = True
