"""The translation catalogues are complete and compiled (`.ci/messages.py --check`, part
of `make lint`), and the check catches an untranslated entry or a stale .mo."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    spec = importlib.util.spec_from_file_location("messages_check", ROOT / ".ci" / "messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_language_is_complete_and_compiled():
    check = _checker()
    languages = {p.parts[-3] for p in check.catalogues()}
    assert languages == {"es", "fr", "de"}
    assert [p for path in check.catalogues() for p in check.problems(path)] == []


def test_the_check_catches_an_untranslated_entry_and_a_stale_mo(tmp_path):
    check = _checker()
    source = ROOT / "locale" / "es" / "LC_MESSAGES"
    copy = tmp_path / "LC_MESSAGES"
    shutil.copytree(source, copy)
    po_path = copy / "django.po"
    po = polib.pofile(str(po_path))
    entry = po.find("I need help")
    entry.msgstr = "Necesito ayuda urgente"
    po.save(str(po_path))
    assert any("out of date" in p and "I need help" in p for p in check.problems(po_path))
    entry.msgstr = ""
    po.save(str(po_path))
    assert any("untranslated" in p for p in check.problems(po_path))
