"""Beat's job for the console: the dashboard's figures and the providers' balances,
refreshed every minute."""

from celery import shared_task

from console import dashboard


@shared_task(name="console.tasks.dashboard_refresh", ignore_result=True)
def dashboard_refresh() -> None:
    dashboard.dashboard_refresh()
    dashboard.provider_balances_refresh()  # network calls: here, never in the page
