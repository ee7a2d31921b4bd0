from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True
