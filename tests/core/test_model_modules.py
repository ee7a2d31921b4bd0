"""Models live where Django finds them without re-import tricks: each app's models are in
`<app>.models` or in a module its AppConfig names (`model_modules`), and no model module
imports another only to get it registered (the old `orders/models.py` re-imported three
model files at its bottom with `noqa: E402`, and made a cycle with the fraud models)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]


def _project_configs() -> list:
    return [c for c in apps.get_app_configs() if Path(c.path).resolve().parent == ROOT]


def test_every_model_is_in_its_apps_models_module_or_one_its_config_names():
    for config in _project_configs():
        homes = {f"{config.name}.models", *getattr(config, "model_modules", ())}
        for model in config.get_models():
            assert model.__module__ in homes or model.__module__.startswith(
                f"{config.name}.models."
            ), f"{model.__module__}.{model.__name__}: name its module in model_modules"


def test_no_model_module_imports_another_model_module_for_its_side_effect():
    found = []
    for config in _project_configs():
        for name in {f"{config.name}.models", *getattr(config, "model_modules", ())}:
            module = sys.modules.get(name)
            if module is None or module.__file__ is None:
                continue
            path = Path(module.__file__)
            source = path.read_text()
            tree = ast.parse(source)
            lines = source.splitlines()
            seen_class = False
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    seen_class = True
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                line = lines[node.lineno - 1]
                # An import after the models, or one silenced for the linter (unused,
                # or not at the top), is there for its side effect: registration.
                if seen_class or "noqa" in line:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert found == []
