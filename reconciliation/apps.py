from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """Daily comparison of the ledger, Stripe and the provider with our records, the
    findings it leaves for operators and the fixes they apply."""

    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True
