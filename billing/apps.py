from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Vendors' money: wallets and credit lines, order reserve/capture/void, statements,
    invoices. Posts through the ledger; sits above vendors and the ledger."""

    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True

    def ready(self) -> None:
        from billing.receivers import receivers_connect

        receivers_connect()
