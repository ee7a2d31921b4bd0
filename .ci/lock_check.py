"""Fails when pyproject.toml and the lock files disagree: every pinned requirement of the
project (requirements.lock) and of its dev extra (requirements-dev.lock) must be locked at
the same version. Regenerate both with `make lock` after changing a pin."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)\s*", line)
        if match is None:
            raise SystemExit(f"lock check: {line!r} is not pinned with ==")
        pins[_name(match.group(1))] = match.group(2)
    return pins


def _locked(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", path.read_text(), re.M)
    return {_name(name): version for name, version in found}


def main(root: Path = ROOT) -> int:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    runtime = _pins(project["dependencies"])
    dev = {**runtime, **_pins(project["optional-dependencies"]["dev"])}
    problems = []
    for lock, wanted in (("requirements.lock", runtime), ("requirements-dev.lock", dev)):
        locked = _locked(root / lock)
        for name, version in sorted(wanted.items()):
            if locked.get(name) != version:
                problems.append(
                    f"{lock}: {name} is {locked.get(name)}, pyproject.toml says {version}"
                )
    for problem in problems:
        print(f"lock check: {problem}", file=sys.stderr)
    if problems:
        print("lock check: run `make lock` and commit the lock files", file=sys.stderr)
        return 1
    print(f"lock check: {len(dev)} pins agree with the lock files")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
