"""Beat's job for the ledger: balance checkpoints (ledger/checkpoints.py)."""

from celery import shared_task

from ledger import checkpoints


@shared_task(name="ledger.tasks.ledger_checkpoint_advance", ignore_result=True)
def ledger_checkpoint_advance() -> int:
    checkpoint = checkpoints.ledger_checkpoint_advance()
    return checkpoint.entries_folded if checkpoint else 0
