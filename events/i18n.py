"""Languages: negotiation (query, cookie, Accept-Language) and gettext catalogs for nl, fr, en.

The current request's language lives in a ContextVar that the i18n middleware sets, so Jinja's
`{% trans %}` and `_()` and the error handlers all speak the user's language.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from events.settings import DEFAULT_LANGUAGE, LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog (compiled at install by `pybabel compile`), or the .po compiled now."""
    mo = LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        return Translations.load(str(LOCALE_DIR), [language])
    if po.exists():
        import io

        with po.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer)
    return _gettext.NullTranslations()


def gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def translate(message: str, language: str, **params: object) -> str:
    text = translations(language).gettext(message)
    return text % params if params else text


def parse_accept_language(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header, best first."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag.strip().lower().split("-")[0]))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """`?lang=` first, then the `lang` cookie, then Accept-Language, then Dutch."""
    for candidate in (query, cookie):
        if candidate and candidate.lower() in LANGUAGES:
            return candidate.lower()
    for tag in parse_accept_language(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def pick_translation(values: dict[str, str], language: str) -> tuple[str, str]:
    """The text in `language`, else the first other language that has it: (text, its language)."""
    if values.get(language):
        return values[language], language
    for other in (DEFAULT_LANGUAGE, *LANGUAGES):
        if values.get(other):
            return values[other], other
    return "", language
