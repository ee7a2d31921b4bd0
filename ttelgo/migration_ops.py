"""Operations shared by the migrations that move a model from one app to another.

A moved model keeps its table and rows (a state-only `CreateModel` in the new app, a
state-only `DeleteModel` in the old one); its content type follows it so permissions,
admin log entries and history rows keep pointing at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def content_types_move(*, models: Sequence[str], from_app: str, to_app: str) -> Any:
    """A reversible `RunPython` that relabels the content types of `models` (lower-case
    model names). A database created with the new code already has them: nothing to do."""
    names = tuple(models)

    def forward(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        if content_type.objects.filter(app_label=to_app, model__in=names).exists():
            return
        content_type.objects.filter(app_label=from_app, model__in=names).update(app_label=to_app)

    def backward(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        content_type.objects.filter(app_label=to_app, model__in=names).update(app_label=from_app)

    return migrations.RunPython(forward, backward)
