"""The lock check fails when a pin in pyproject.toml and the lock files disagree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ("pyproject.toml", "requirements.lock", "requirements-dev.lock")


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lock_check.py"), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_repository_pins_agree_with_its_locks():
    assert _check(ROOT).returncode == 0


def test_a_pin_changed_without_the_lock_fails(tmp_path):
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"Django==5.2.19"', '"Django==5.2.18"'))
    result = _check(tmp_path)
    assert result.returncode == 1
    assert "django is 5.2.19, pyproject.toml says 5.2.18" in result.stderr
