"""Fail when a function imports another app of the project.

An import inside a function hides a dependency from the layers contract (`lint-imports`)
and is how the old import cycle was kept out of sight. Imports of the module's own app
are allowed (rarely needed); so are those in `AppConfig.ready` (apps.py), where Django
wants them, and in migrations.

    .ci/local_imports.py            (make lint)
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_apps() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["importlinter"]["root_packages"])


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [] if node.level else [node.module or ""]


def local_cross_app_imports(path: Path, app: str, apps: set[str]) -> list[str]:
    found: list[str] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                for name in imported(child):
                    top = name.split(".")[0]
                    if top in apps and top != app:
                        found.append(f"{path.relative_to(ROOT)}:{child.lineno}: imports {name}")
            walk(child, inside)

    walk(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def main() -> int:
    apps = project_apps()
    problems: list[str] = []
    for app in sorted(apps):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path.name == "apps.py":
                continue
            problems.extend(local_cross_app_imports(path, app, apps))
    for line in problems:
        print(line)
    print(f"local imports of another app: {len(problems)}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
