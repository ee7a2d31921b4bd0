from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Help requests from customers and vendors, about an order or an eSIM or neither,
    and the operators' answers. Sits beside webhooks and reconciliation, above orders."""

    name = "support"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators' to look after: every operator role may view it.
    operated = True
