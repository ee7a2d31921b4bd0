"""pre-commit runs exactly the checks `make lint` runs (a check added to one and not the
other fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _norm(command: str) -> str:
    """One spelling: the venv path, no `--check` (pre-commit checks), no trailing `.`
    (pre-commit passes the files)."""
    command = command.replace("$(VENV)", ".venv").replace("$(PY)", ".venv/bin/python")
    words = [w for w in command.split() if w != "--check"]
    if words and words[-1] == "." and "mypy" not in words[0]:
        words = words[:-1]
    return " ".join(words)


def test_pre_commit_hooks_are_the_make_lint_commands():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint: .*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None
    lint = {_norm(line) for line in recipe.group(1).splitlines()}
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {_norm(hook["entry"]) for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks == lint
