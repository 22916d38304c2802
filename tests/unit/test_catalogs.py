"""Every page and mail exists in nl, fr and en: each extracted string is translated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "events" / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(scope="module")
def template_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Extract afresh from the sources, so a string added without `make messages` is caught."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
def test_every_string_of_pages_and_mails_is_translated(language: str, template_ids: set[str]) -> None:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    # A plural entry counts only when every form is filled in.
    translated = {
        m.id: m.string
        for m in catalog
        if m.id and m.string and not m.fuzzy and (not isinstance(m.string, tuple) or all(m.string))
    }
    missing = sorted(template_ids - set(translated))
    assert not missing, f"{len(missing)} untranslated in {language}: {missing[:10]}"


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_translations_keep_every_placeholder(language: str) -> None:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if not (message.id and message.string):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = sorted(set().union(*(PLACEHOLDER.findall(text) for text in ids)))
        for form in forms:
            # A singular form may leave out the number ("one place left"), never add one.
            found = sorted(set(PLACEHOLDER.findall(form)))
            assert set(found) <= set(wanted) and (len(forms) > 1 or found == wanted), (message.id, form)
