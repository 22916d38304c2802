"""Pure: a mail's template + language + values → subject, text and HTML.

Each mail is `templates/email/<name>.txt` and `<name>.html` on one base layout, translated
with the same gettext catalogs as the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from events import i18n
from events.services.errors import N_
from events.web.templating import TEMPLATE_DIR, local_date, local_time, pick, render_markdown, zone_label

SUBJECTS = {
    "invitation": N_("Registration confirmed: %(title)s"),
    "event_updated": N_("Changed: %(title)s"),
    "event_cancelled": N_("Cancelled: %(title)s"),
    "event_cancelled_plain": N_("Cancelled: %(title)s"),
    "registration_cancelled": N_("Your registration is cancelled: %(title)s"),
    "registration_cancelled_plain": N_("Your registration is cancelled: %(title)s"),
    "promoted": N_("A place became free: %(title)s"),
    "approved": N_("Registration approved: %(title)s"),
    "waitlisted": N_("On the waiting list: %(title)s"),
    "pending_approval": N_("Registration received: %(title)s"),
    "rejected": N_("Registration not accepted: %(title)s"),
    "confirm_email": N_("Please confirm your registration: %(title)s"),
    "your_link": N_("Your registration: %(title)s"),
    "reminder": N_("Reminder: %(title)s"),
    "follow_up": N_("Thank you for coming: %(title)s"),
    "broadcast": "%(title)s",  # the organiser writes the subject
    "booking_confirmed": N_("Appointment booked: %(title)s"),
    "booking_moved": N_("Appointment moved: %(title)s"),
    "booking_cancelled": N_("Appointment cancelled: %(title)s"),
    "advisor_booking_confirmed": N_("New appointment: %(title)s"),
    "advisor_booking_moved": N_("Appointment moved: %(title)s"),
    "advisor_booking_cancelled": N_("Appointment cancelled: %(title)s"),
    "meeting_request": N_("Meeting request: %(title)s"),
    "meeting_accepted": N_("Meeting planned: %(title)s"),
    "meeting_cancelled": N_("Meeting cancelled: %(title)s"),
    "webhook_disabled": N_("Webhook disabled: %(title)s"),
    "privacy_link": N_("Your data at Trefpunt"),
}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@contextmanager
def language(code: str) -> Iterator[None]:
    token = i18n.current_language.set(code)
    try:
        yield
    finally:
        i18n.current_language.reset(token)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR / "email")),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        local_date=local_date, local_time=local_time, zone_label=zone_label, pick=pick, markdown=render_markdown
    )
    return env


def _tidy_text(text: str) -> str:
    # "-- " keeps its space: it is the signature delimiter mail clients recognise (RFC 3676).
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render_mail(name: str, lang: str, **context: Any) -> RenderedMail:
    """Render mail `name` in `lang`; `context["title"]` goes into the subject."""
    env = _environment()
    with language(lang):
        subject = context.pop("subject_override", None) or i18n.gettext(SUBJECTS[name]) % {
            "title": context.get("title", "")
        }
        values = {"subject": subject, "lang": lang, **context}
        # Templates may be generous with blank lines (block tags eat the newline after them);
        # the text part gets exactly one blank line between paragraphs.
        text = _tidy_text(env.get_template(f"{name}.txt").render(values))
        html = env.get_template(f"{name}.html").render(values)
    return RenderedMail(subject=" ".join(subject.split())[:300], text=text, html=html)
