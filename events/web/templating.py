"""Jinja environment: gettext in the request's language, dates in the event's zone, safe Markdown."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from events import i18n
from events.calendar import links
from events.settings import LANGUAGES, PROJECT_ROOT, get_settings

TEMPLATE_DIR = PROJECT_ROOT / "templates"
# "js-default": raw HTML off and only safe link schemes, so organiser text cannot inject markup.
_markdown = MarkdownIt("js-default", {"breaks": True})


def render_markdown(text: str) -> Markup:
    return Markup(_markdown.render(text or ""))  # noqa: S704 - markdown-it escapes all raw HTML  # nosec B704


def local_datetime(moment: datetime, timezone: str, style: str = "full") -> str:
    return format_datetime(moment, format=style, tzinfo=ZoneInfo(timezone), locale=i18n.current_language.get())


def local_date(moment: datetime, timezone: str, style: str = "full") -> str:
    return format_date(moment.astimezone(ZoneInfo(timezone)), format=style, locale=i18n.current_language.get())


def local_time(moment: datetime, timezone: str) -> str:
    return format_time(moment, format="short", tzinfo=ZoneInfo(timezone), locale=i18n.current_language.get())


def zone_label(moment: datetime, timezone: str) -> str:
    """The zone as people read it ("CET", "CEST"), with its IANA name for other zones."""
    abbreviation = moment.astimezone(ZoneInfo(timezone)).tzname() or timezone
    return abbreviation if timezone == "Europe/Brussels" else f"{abbreviation}, {timezone}"


def pick(texts: dict[str, str]) -> str:
    return i18n.pick_translation(texts, i18n.current_language.get())[0]


def pick_language(texts: dict[str, str]) -> str:
    return i18n.pick_translation(texts, i18n.current_language.get())[1]


def query_url(path: str, params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return f"{path}?{urlencode(merged)}" if merged else path


def language_url(request: Any, code: str) -> str:
    """The current page in another language, keeping its filters."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    return query_url(request.url.path, params, lang=code)


def make_environment(template_dir: Path = TEMPLATE_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        markdown=render_markdown,
        local_datetime=local_datetime,
        local_date=local_date,
        local_time=local_time,
        zone_label=zone_label,
        pick=pick,
        pick_language=pick_language,
    )
    env.globals.update(
        LANGUAGES=LANGUAGES,
        LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
        current_language=i18n.current_language.get,
        query_url=query_url,
        language_url=language_url,
        webcal=links.webcal,
        google_subscribe=links.google_subscribe,
        outlook_subscribe=links.outlook_subscribe,
        google_add=links.google_add,
        outlook_add=links.outlook_add,
        base_url=get_settings().base_url,
    )
    return env
