"""Compile the translation catalogues (locale/*/LC_MESSAGES/django.po → .mo) with polib,
so no gettext tools are needed; `--check` fails when a .po has an untranslated or fuzzy
entry or its committed .mo says something else (a test runs the check too)."""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def catalogues() -> list[Path]:
    return sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po"))


def problems(po_path: Path) -> list[str]:
    """What is wrong with one catalogue and its compiled .mo."""
    po = polib.pofile(str(po_path))
    found = [f"{po_path}: untranslated: {e.msgid!r}" for e in po.untranslated_entries()]
    found += [f"{po_path}: fuzzy: {e.msgid!r}" for e in po.fuzzy_entries()]
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return [*found, f"{mo_path}: missing (run `make messages`)"]
    compiled = {
        (e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in polib.mofile(str(mo_path))
    }
    for entry in po.translated_entries():
        plural = {int(k): v for k, v in entry.msgstr_plural.items()}
        got = compiled.get((entry.msgctxt, entry.msgid))
        if (
            got is None
            or (got[0] != entry.msgstr)
            or ({int(k): v for k, v in got[1].items()} != plural)
        ):
            found.append(f"{mo_path}: out of date for {entry.msgid!r} (run `make messages`)")
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        issues = [p for path in catalogues() for p in problems(path)]
        print("\n".join(issues) or f"{len(catalogues())} catalogues translated and compiled")
        return 1 if issues else 0
    for path in catalogues():
        polib.pofile(str(path)).save_as_mofile(str(path.with_suffix(".mo")))
        print(f"compiled {path.with_suffix('.mo').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
