"""The base class of every Celery task (the app in `config/celery.py` names it)."""

from celery import Task

from ttelgo.transient import DATABASE_FAULTS


class ResilientTask(Task):  # type: ignore[misc]
    """Every task's base: a database fault (the database restarting, a lost deadlock or
    serialization conflict) retries the task at once with jittered backoff instead of
    failing it and leaving the work to a re-drive job. Tasks take ids and re-check state,
    so running one again is safe. A task that names its own `autoretry_for` adds these."""

    autoretry_for = DATABASE_FAULTS
    retry_backoff = 1
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 10
