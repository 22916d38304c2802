"""An event's parts as the back office edits them: questions, consent purposes, a consultation
day's advisors and windows, a networking event's meeting slots and tables.

Forms arrive as flat `name -> text` maps with numbered rows (`q-0-kind`, `a-1-w-0-start`), so a
page can add and remove rows without JavaScript. Each form becomes the services' input here, with
an error per field for what a person can fix; the rules themselves stay in questions,
consultations and networking, and each save is one write transaction with its audit entry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import msgspec.inspect

from events.db import write_transaction
from events.services import audit, consents, consultations, networking, questions
from events.services.access import Actor
from events.services.consultations import AdvisorInput, ConsultationInput, WindowInput
from events.services.errors import N_, Conflict, DomainError, InvalidInput
from events.services.hosts import require_editor
from events.services.networking import NetworkingInput
from events.services.questions import OptionInput, QuestionInput, QuestionView
from events.services.registrations import lock_event
from events.services.versions import bump_data_version
from events.settings import LANGUAGES
from events.tables import (
    Advisor,
    AvailabilityWindow,
    Consultation,
    MeetingSlot,
    MeetingTable,
    NetworkingSettings,
    Organisation,
    Slot,
)

KINDS = ("short_text", "long_text", "single", "multiple", "yes_no")
CHOICE_KINDS = ("single", "multiple")
MAX_QUESTIONS = 50
MAX_ADVISORS = 50
MAX_WINDOWS = 20
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOPIC_RE = re.compile(r"^[a-z0-9_-]+$")


class FieldError(msgspec.Struct):
    """A message id (translated by the page) and its parameters."""

    message: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)


Errors = dict[str, FieldError]


class FormProblem(DomainError):
    """Input a person can fix, with an error per form field; the page shows them in place."""

    status_code = 422

    def __init__(self, errors: Errors) -> None:
        super().__init__(N_("Some fields are not valid. Please check the marked fields."))
        self.errors = errors


def _texts(form: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {lang: form.get(f"{prefix}-{lang}", "") for lang in LANGUAGES}


def _indices(form: Mapping[str, str], pattern: str, limit: int) -> list[int]:
    """The row numbers present in a form, in order (at most `limit`)."""
    found = sorted({int(m.group(1)) for key in form if (m := re.fullmatch(pattern, key)) and len(m.group(1)) < 6})
    return found[:limit]


def _action(form: Mapping[str, str]) -> tuple[str, list[int]]:
    """The button pressed: `save`, or an editing step such as `up:2` or `remove-window:1:0`."""
    name, *numbers = (form.get("action") or "save").split(":")
    if not all(n.isdigit() and len(n) < 6 for n in numbers):
        return "save", []
    return name, [int(n) for n in numbers]


def _int_field(struct: type[msgspec.Struct], name: str) -> tuple[int, int]:
    """The bounds the service's input type allows for an integer field (one source of truth)."""
    for field in msgspec.inspect.type_info(struct).fields:  # type: ignore[attr-defined,unused-ignore]
        if field.name == name:
            kind = field.type
            return int(kind.ge if kind.ge is not None else 0), int(kind.le if kind.le is not None else 10**6)
    raise KeyError(name)


def _whole_number(
    form: Mapping[str, str], name: str, struct: type[msgspec.Struct], errors: Errors, default: int
) -> int:
    low, high = _int_field(struct, name)
    text = form.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d{1,6}", text) or not low <= int(text) <= high:
        errors[name] = FieldError(N_("Enter a whole number from %(low)s to %(high)s."), {"low": low, "high": high})
        return default
    return int(text)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:40]


# Event times as the forms show them ----------------------------------------------------------------


class Day(msgspec.Struct):
    """How a form shows an event's times: a time of day on a one-day event, else date and time."""

    timezone: str
    first: date
    multi_day: bool

    @classmethod
    def of(cls, starts_at: datetime, ends_at: datetime, timezone: str) -> Day:
        zone = ZoneInfo(timezone)
        first, last = starts_at.astimezone(zone).date(), ends_at.astimezone(zone).date()
        return cls(timezone=timezone, first=first, multi_day=first != last)

    def show(self, moment: datetime) -> str:
        local = moment.astimezone(ZoneInfo(self.timezone))
        return local.strftime("%Y-%m-%dT%H:%M") if self.multi_day else local.strftime("%H:%M")

    def read(self, text: str) -> datetime | None:
        """A form value as an aware datetime; None when it is not a time (or date and time)."""
        text = text.strip()
        zone = ZoneInfo(self.timezone)
        try:
            if "T" in text:
                return datetime.strptime(text[:16], "%Y-%m-%dT%H:%M").replace(tzinfo=zone)
            return datetime.combine(self.first, time.fromisoformat(text[:5]), tzinfo=zone)
        except ValueError:
            return None


# Questions -----------------------------------------------------------------------------------------


class QuestionRow(msgspec.Struct, kw_only=True):
    """One question as the form holds it: texts per language, options one per line."""

    id: str = ""
    kind: str = "short_text"
    label: dict[str, str] = msgspec.field(default_factory=lambda: dict.fromkeys(LANGUAGES, ""))
    required: bool = False
    options: dict[str, str] = msgspec.field(default_factory=lambda: dict.fromkeys(LANGUAGES, ""))
    keys: str = ""  # the option keys of the stored question, in order


def rows_from_questions(stored: list[QuestionView]) -> list[QuestionRow]:
    return [
        QuestionRow(
            id=str(question.id),
            kind=question.kind,
            label={lang: question.label.get(lang, "") for lang in LANGUAGES},
            required=question.required,
            options={lang: "\n".join(option.get(lang, "") for option in question.options) for lang in LANGUAGES},
            keys=",".join(option["key"] for option in question.options),
        )
        for question in stored
    ]


def question_rows_from_form(form: Mapping[str, str]) -> list[QuestionRow]:
    rows = []
    for index in _indices(form, r"q-(\d+)-kind", MAX_QUESTIONS):
        prefix = f"q-{index}"
        kind = form.get(f"{prefix}-kind", "short_text")
        rows.append(
            QuestionRow(
                id=form.get(f"{prefix}-id", "") if form.get(f"{prefix}-id", "").isdigit() else "",
                kind=kind if kind in KINDS else "short_text",
                label=_texts(form, f"{prefix}-label"),
                required=bool(form.get(f"{prefix}-required")),
                options=_texts(form, f"{prefix}-options"),
                keys=form.get(f"{prefix}-keys", "")[:4000],
            )
        )
    return rows


def edit_question_rows(rows: list[QuestionRow], form: Mapping[str, str]) -> list[QuestionRow] | None:
    """Apply an editing button (add, remove, up, down); None when the button was Save."""
    action, numbers = _action(form)
    rows = list(rows)
    index = numbers[0] if numbers and numbers[0] < len(rows) else None
    if action == "add" and len(rows) < MAX_QUESTIONS:
        rows.append(QuestionRow())
    elif action == "remove" and index is not None:
        del rows[index]
    elif action == "up" and index:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif action == "down" and index is not None and index + 1 < len(rows):
        rows[index], rows[index + 1] = rows[index + 1], rows[index]
    elif action == "save":
        return None
    return rows


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _assign_keys(options: list[OptionInput], stored: list[dict[str, str]], old_keys: list[str]) -> list[OptionInput]:
    """Give every option a key: the key of a stored option with the same text, else the key
    that stood at the same place (an edit in place), else a new one."""
    by_text: dict[tuple[str, str], str] = {}
    for previous in stored:
        for lang in LANGUAGES:
            if previous.get(lang):
                by_text.setdefault((lang, previous[lang]), previous["key"])
    keys: list[str | None] = []
    used: set[str] = set()
    for option in options:
        match = next(
            (
                by_text[(lang, getattr(option, lang))]
                for lang in LANGUAGES
                if getattr(option, lang) and (lang, getattr(option, lang)) in by_text
            ),
            None,
        )
        if match in used:
            match = None
        keys.append(match)
        if match:
            used.add(match)
    for n, key in enumerate(keys):
        if key is None and n < len(old_keys) and old_keys[n] not in used:
            keys[n] = old_keys[n]
            used.add(old_keys[n])
    counter = 1
    for n, key in enumerate(keys):
        if key is None:
            while f"o{counter}" in used:
                counter += 1
            keys[n] = f"o{counter}"
            used.add(f"o{counter}")
    return [msgspec.structs.replace(option, key=key) for option, key in zip(options, keys, strict=True)]


def questions_from_rows(rows: list[QuestionRow], stored: list[QuestionView]) -> list[tuple[int | None, QuestionInput]]:
    """The service's input from the form's rows; raises FormProblem with an error per field."""
    errors: Errors = {}
    by_id = {question.id: question for question in stored}
    result: list[tuple[int | None, QuestionInput]] = []
    for index, row in enumerate(rows):
        prefix = f"q-{index}"
        label = {lang: row.label.get(lang, "").strip() for lang in LANGUAGES}
        if not any(label.values()):
            errors[f"{prefix}-label-{LANGUAGES[0]}"] = FieldError(
                N_("Every question needs a label in at least one language.")
            )
        elif any(len(text) > 300 for text in label.values()):
            errors[f"{prefix}-label-{LANGUAGES[0]}"] = FieldError(N_("A label is at most 300 characters long."))
        options: list[OptionInput] = []
        if row.kind in CHOICE_KINDS:
            per_language = {lang: _lines(row.options.get(lang, "")) for lang in LANGUAGES}
            count = max(len(lines) for lines in per_language.values())
            texts = [
                {lang: (lines[n] if n < len(lines) else "") for lang, lines in per_language.items()}
                for n in range(count)
            ]
            texts = [text for text in texts if any(text.values())]
            if any(len(value) > 200 for text in texts for value in text.values()):
                errors[f"{prefix}-options-{LANGUAGES[0]}"] = FieldError(N_("An option is at most 200 characters long."))
            elif len(texts) < 2:
                errors[f"{prefix}-options-{LANGUAGES[0]}"] = FieldError(
                    N_("A choice question needs at least two options.")
                )
            elif len(texts) > 50:
                errors[f"{prefix}-options-{LANGUAGES[0]}"] = FieldError(N_("A question has at most 50 options."))
            else:
                question_id = int(row.id) if row.id else None
                previous = by_id[question_id].options if question_id in by_id else []
                old_keys = [key for key in row.keys.split(",") if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key)]
                options = _assign_keys([OptionInput(key="-", **text) for text in texts], previous, old_keys)
        question_id = int(row.id) if row.id and int(row.id) in by_id else None
        if not errors:
            result.append(
                (
                    question_id,
                    QuestionInput(
                        kind=row.kind,  # type: ignore[arg-type]
                        label={lang: text for lang, text in label.items() if text},  # type: ignore[misc]
                        required=row.required,
                        options=options,
                    ),
                )
            )
    if errors:
        raise FormProblem(errors)
    return result


async def save_questions(actor: Actor, event_id: int, items: list[tuple[int | None, QuestionInput]]) -> None:
    """Store the registration questions of an event as the editor left them."""
    owner = await require_editor(actor, event_id)
    async with write_transaction():
        event = await lock_event(event_id)
        if event["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        await questions.edit_questions(event_id, items)
        await audit.record(
            actor, "event.questions_updated", organisation_id=owner, target=f"event:{event_id}", questions=len(items)
        )


# Consent purposes ----------------------------------------------------------------------------------


class PurposeRow(msgspec.Struct, kw_only=True):
    key: str = ""
    text: dict[str, str] = msgspec.field(default_factory=lambda: dict.fromkeys(LANGUAGES, ""))


def purpose_row_from_form(form: Mapping[str, str]) -> PurposeRow:
    return PurposeRow(key=form.get("key", "").strip()[:64], text=_texts(form, "text"))


def purpose_from_row(row: PurposeRow) -> consents.PurposeInput:
    errors: Errors = {}
    texts = {lang: row.text.get(lang, "").strip() for lang in LANGUAGES}
    if not any(texts.values()):
        errors[f"text-{LANGUAGES[0]}"] = FieldError(N_("A consent purpose needs a text in at least one language."))
    elif any(len(text) > 2000 for text in texts.values()):
        errors[f"text-{LANGUAGES[0]}"] = FieldError(N_("A text is at most 2000 characters long."))
    key = row.key or _slug(texts.get("en") or texts.get("nl") or texts.get("fr") or "")
    if row.key and not re.fullmatch(r"[a-z0-9_-]{1,64}", row.key):
        errors["key"] = FieldError(N_("Use lower-case letters, digits, - and _ only."))
    elif not key and not errors:
        errors["key"] = FieldError(N_("Give the purpose a short name."))
    if errors:
        raise FormProblem(errors)
    return consents.PurposeInput(key=key, text={lang: text for lang, text in texts.items() if text})  # type: ignore[misc]


async def define_event_purpose(actor: Actor, event_id: int, data: consents.PurposeInput) -> consents.PurposeView:
    """Define (or reword: a new version) a consent purpose of the organisation owning the event."""
    owner = await require_editor(actor, event_id)
    async with write_transaction():
        purpose = await consents.define_purpose(actor, owner, data)
        await audit.record(
            actor,
            "consent_purpose.defined",
            organisation_id=owner,
            target=f"consent_purpose:{purpose.id}",
            key=purpose.key,
            version=purpose.version,
        )
    return purpose


# Consultation days ---------------------------------------------------------------------------------


class WindowRow(msgspec.Struct):
    start: str = ""
    end: str = ""


class AdvisorRow(msgspec.Struct, kw_only=True):
    name: str = ""
    email: str = ""
    languages: list[str] = msgspec.field(default_factory=list)
    topics: str = ""
    room: str = ""
    online_url: str = ""
    organisation: str = ""
    windows: list[WindowRow] = msgspec.field(default_factory=lambda: [WindowRow()])
    booked: int = 0

    def blank(self) -> bool:
        return not (self.name.strip() or self.email.strip() or any(w.start or w.end for w in self.windows))


class ConsultationForm(msgspec.Struct, kw_only=True):
    slot_minutes: str = "30"
    buffer_minutes: str = "0"
    min_notice_hours: str = "12"
    booking_opens_days: str = "60"
    max_bookings_per_person: str = "1"
    advisors: list[AdvisorRow] = msgspec.field(default_factory=lambda: [AdvisorRow()])


SETTINGS = ("slot_minutes", "buffer_minutes", "min_notice_hours", "booking_opens_days", "max_bookings_per_person")


async def consultation_form(event_id: int, day: Day) -> ConsultationForm:
    """The stored settings, advisors and windows of a consultation day, as the form shows them."""
    settings = await Consultation.select().where(Consultation.event == event_id).first()
    advisors = await Advisor.select().where(Advisor.event == event_id).order_by(Advisor.position).order_by(Advisor.id)
    if settings is None and not advisors:
        return ConsultationForm()
    slugs = {
        row["id"]: row["slug"]
        for row in await Organisation.select(Organisation.id, Organisation.slug).where(
            Organisation.id.is_in([a["organisation"] for a in advisors] or [-1])
        )
    }
    rows = []
    for advisor in advisors:
        windows = (
            await AvailabilityWindow.select()
            .where(AvailabilityWindow.advisor == advisor["id"])
            .order_by(AvailabilityWindow.starts_at)
        )
        booked = await Slot.count().where((Slot.advisor == advisor["id"]) & (Slot.status == "booked"))
        rows.append(
            AdvisorRow(
                name=advisor["name"],
                email=advisor["email"],
                languages=[x for x in advisor["languages"].split(",") if x],
                topics=", ".join(x for x in advisor["topics"].split(",") if x),
                room=advisor["room"],
                online_url=advisor["online_url"],
                organisation=slugs.get(advisor["organisation"], ""),
                windows=[WindowRow(day.show(w["starts_at"]), day.show(w["ends_at"])) for w in windows] or [WindowRow()],
                booked=int(booked),
            )
        )
    values = {name: str(settings[name]) for name in SETTINGS} if settings else {}
    return ConsultationForm(**values, advisors=rows or [AdvisorRow()])


def consultation_form_from_form(form: Mapping[str, str]) -> ConsultationForm:
    advisors = []
    for index in _indices(form, r"a-(\d+)-name", MAX_ADVISORS):
        prefix = f"a-{index}"
        windows = [
            WindowRow(form.get(f"{prefix}-w-{n}-start", "")[:16], form.get(f"{prefix}-w-{n}-end", "")[:16])
            for n in _indices(form, rf"{prefix}-w-(\d+)-start", MAX_WINDOWS)
        ]
        booked = form.get(f"{prefix}-booked", "0")
        advisors.append(
            AdvisorRow(
                name=form.get(f"{prefix}-name", "")[:200],
                email=form.get(f"{prefix}-email", "")[:254],
                languages=[lang for lang in LANGUAGES if form.get(f"{prefix}-lang-{lang}")],
                topics=form.get(f"{prefix}-topics", "")[:1000],
                room=form.get(f"{prefix}-room", "")[:200],
                online_url=form.get(f"{prefix}-online_url", "")[:500],
                organisation=form.get(f"{prefix}-organisation", "")[:64],
                windows=windows or [WindowRow()],
                booked=int(booked) if booked.isdigit() and len(booked) < 6 else 0,
            )
        )
    return ConsultationForm(**{name: form.get(name, "")[:10] for name in SETTINGS}, advisors=advisors or [AdvisorRow()])


def edit_consultation_form(data: ConsultationForm, form: Mapping[str, str]) -> ConsultationForm | None:
    """Apply an editing button (add or remove an advisor or a window); None for Save."""
    action, numbers = _action(form)
    advisors = [msgspec.structs.replace(a, windows=list(a.windows)) for a in data.advisors]
    index = numbers[0] if numbers and numbers[0] < len(advisors) else None
    if action == "add-advisor" and len(advisors) < MAX_ADVISORS:
        advisors.append(AdvisorRow())
    elif action == "remove-advisor" and index is not None:
        del advisors[index]
        advisors = advisors or [AdvisorRow()]
    elif action == "add-window" and index is not None and len(advisors[index].windows) < MAX_WINDOWS:
        advisors[index].windows.append(WindowRow())
    elif action == "remove-window" and index is not None and len(numbers) > 1:
        windows = advisors[index].windows
        if numbers[1] < len(windows):
            del windows[numbers[1]]
        advisors[index].windows = windows or [WindowRow()]
    elif action == "save":
        return None
    return msgspec.structs.replace(data, advisors=advisors)


def consultation_from_form(data: ConsultationForm, day: Day, organisations: list[str]) -> ConsultationInput:
    """The service's input; raises FormProblem with an error per field. Rows left blank are
    skipped; windows are checked against the day here so an error lands on the right advisor."""
    errors: Errors = {}
    values = {name: getattr(data, name) for name in SETTINGS}
    defaults = ConsultationForm()
    settings = {
        name: _whole_number(values, name, ConsultationInput, errors, int(getattr(defaults, name))) for name in SETTINGS
    }
    advisors: list[AdvisorInput] = []
    for index, row in enumerate(data.advisors):
        if row.blank():
            continue
        prefix = f"a-{index}"
        name = " ".join(row.name.split())
        if not name:
            errors[f"{prefix}-name"] = FieldError(N_("Give the advisor's name."))
        email = row.email.strip()
        if not EMAIL_RE.match(email):
            errors[f"{prefix}-email"] = FieldError(N_("Enter an email address such as name@example.org."))
        if not row.languages:
            errors[f"{prefix}-languages"] = FieldError(N_("Choose at least one language."))
        topics = [_slug(topic).replace("-", "_") for topic in row.topics.split(",") if topic.strip()]
        if len(topics) > 20 or any(not TOPIC_RE.match(t) for t in topics):
            errors[f"{prefix}-topics"] = FieldError(N_("Up to 20 topics, separated by commas."))
        if row.online_url and not re.match(r"^https?://\S+$", row.online_url.strip()):
            errors[f"{prefix}-online_url"] = FieldError(N_("The online link must be an http(s) address."))
        if row.organisation and row.organisation not in organisations:
            errors[f"{prefix}-organisation"] = FieldError(N_("Choose one of the organisations of this event."))
        windows: list[WindowInput] = []
        for number, window in enumerate(row.windows):
            if not (window.start or window.end):
                continue
            start, end = day.read(window.start), day.read(window.end)
            for moment, part in ((start, "start"), (end, "end")):
                if moment is None:
                    errors[f"{prefix}-w-{number}-{part}"] = FieldError(N_("Enter a time such as 09:30."))
            if start is not None and end is not None:
                if end <= start:
                    errors[f"{prefix}-w-{number}-end"] = FieldError(
                        N_("An availability window must end after it starts.")
                    )
                else:
                    windows.append(WindowInput(starts_at=start, ends_at=end))
        if not windows and not any(key.startswith(f"{prefix}-w-") for key in errors):
            errors[f"{prefix}-w-0-start"] = FieldError(N_("Give at least one availability window."))
        if errors:
            continue
        advisor = AdvisorInput(
            name=name,
            email=email,
            languages=row.languages,  # type: ignore[arg-type]
            topics=list(dict.fromkeys(topics)),
            room=row.room.strip(),
            online_url=row.online_url.strip(),
            organisation=row.organisation or None,
            windows=windows,
        )
        advisors.append(advisor)
    if not advisors and not errors:
        errors["a-0-name"] = FieldError(N_("A consultation day needs at least one advisor."))
    if errors:
        raise FormProblem(errors)
    return ConsultationInput(**settings, advisors=advisors)


def check_consultation_windows(data: ConsultationInput, starts_at: datetime, ends_at: datetime) -> None:
    """The service's window rules, per advisor, so the error lands on that advisor's windows."""
    errors: Errors = {}
    for index, advisor in enumerate(data.advisors):
        try:
            consultations.check_windows(advisor, starts_at, ends_at)
        except InvalidInput as exc:
            errors[f"a-{index}-w-0-start"] = FieldError(exc.message, exc.params)
    if errors:
        raise FormProblem(errors)


async def save_consultation(actor: Actor, event_id: int, data: ConsultationInput) -> None:
    """Store a consultation day's settings, advisors and windows; free slots are generated
    again, booked and blocked ones stay (the consultations service's rule)."""
    owner = await require_editor(actor, event_id)
    async with write_transaction():
        # The event lock orders this after (or before) any booking being made right now.
        event = await lock_event(event_id)
        if event["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        await consultations.apply_consultation(event_id, data)
        await bump_data_version()
        await audit.record(
            actor,
            "event.consultation_updated",
            organisation_id=owner,
            target=f"event:{event_id}",
            advisors=[advisor.name for advisor in data.advisors],
        )


# Networking ----------------------------------------------------------------------------------------


class NetworkingForm(msgspec.Struct, kw_only=True):
    meeting_minutes: str = "15"
    meetings_start: str = ""
    meetings_end: str = ""
    tables: str = ""
    max_pending: str = "5"
    vocabulary: str = ""


async def networking_form(event_id: int, day: Day, starts_at: datetime, ends_at: datetime) -> NetworkingForm:
    settings = await NetworkingSettings.select().where(NetworkingSettings.event == event_id).first()
    tables = (
        await MeetingTable.select(MeetingTable.name)
        .where(MeetingTable.event == event_id)
        .order_by(MeetingTable.position)
    )
    if settings is None:
        return NetworkingForm(
            meetings_start=day.show(starts_at),
            meetings_end=day.show(ends_at),
            tables="\n".join(row["name"] for row in tables),
            vocabulary=", ".join(networking.VOCABULARY),
        )
    return NetworkingForm(
        meeting_minutes=str(settings["meeting_minutes"]),
        meetings_start=day.show(settings["meetings_start"]),
        meetings_end=day.show(settings["meetings_end"]),
        tables="\n".join(row["name"] for row in tables),
        max_pending=str(settings["max_pending"]),
        vocabulary=", ".join(x for x in settings["vocabulary"].split(",") if x),
    )


async def meeting_slots(event_id: int) -> list[tuple[datetime, datetime]]:
    rows = await MeetingSlot.select().where(MeetingSlot.event == event_id).order_by(MeetingSlot.starts_at)
    return [(row["starts_at"].astimezone(UTC), row["ends_at"].astimezone(UTC)) for row in rows]


def networking_form_from_form(form: Mapping[str, str]) -> NetworkingForm:
    return NetworkingForm(
        meeting_minutes=form.get("meeting_minutes", "")[:10],
        meetings_start=form.get("meetings_start", "")[:16],
        meetings_end=form.get("meetings_end", "")[:16],
        tables=form.get("tables", "")[:20_000],
        max_pending=form.get("max_pending", "")[:10],
        vocabulary=form.get("vocabulary", "")[:4000],
    )


def networking_from_form(data: NetworkingForm, day: Day) -> NetworkingInput:
    errors: Errors = {}
    values = msgspec.structs.asdict(data)
    minutes = _whole_number(values, "meeting_minutes", NetworkingInput, errors, 15)
    max_pending = _whole_number(values, "max_pending", NetworkingInput, errors, 5)
    start, end = day.read(data.meetings_start), day.read(data.meetings_end)
    for moment, name in ((start, "meetings_start"), (end, "meetings_end")):
        if moment is None:
            errors[name] = FieldError(N_("Enter a time such as 09:30."))
    if start is not None and end is not None and end <= start:
        errors["meetings_end"] = FieldError(N_("The meetings must end after they start."))
    tables = [" ".join(line.split()) for line in _lines(data.tables) if line.strip()]
    if not tables:
        errors["tables"] = FieldError(N_("Give at least one table, one per line."))
    elif len(tables) > 200 or any(len(name) > 100 for name in tables):
        errors["tables"] = FieldError(N_("Up to 200 tables, each name at most 100 characters long."))
    elif len(set(tables)) != len(tables):
        errors["tables"] = FieldError(N_("Each table has its own name."))
    vocabulary = [" ".join(tag.split()).lower() for tag in data.vocabulary.split(",") if tag.strip()]
    if len(vocabulary) > 50 or any(not networking.TAG_RE.match(tag) for tag in vocabulary):
        errors["vocabulary"] = FieldError(N_("Up to 50 tags, separated by commas; a tag is a word or two."))
    if errors:
        raise FormProblem(errors)
    assert start is not None and end is not None
    return NetworkingInput(
        meeting_minutes=minutes,
        meetings_start=start,
        meetings_end=end,
        tables=tables,
        max_pending=max_pending,
        vocabulary=list(dict.fromkeys(vocabulary)),
    )


async def save_networking(actor: Actor, event_id: int, data: NetworkingInput) -> None:
    """Store a networking event's meeting settings; slots and tables in use stay (the
    networking service's rule)."""
    owner = await require_editor(actor, event_id)
    async with write_transaction():
        event = await lock_event(event_id)
        if event["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        try:
            await networking.apply_networking(event_id, data)
        except InvalidInput as exc:
            # Put the service's answer next to the field it is about.
            field = {"networking": "meetings_start", "tables": "tables", "offers": "vocabulary"}.get(exc.field or "")
            if field is None:
                raise
            raise FormProblem({field: FieldError(exc.message, exc.params)}) from None
        await bump_data_version()
        await audit.record(
            actor,
            "event.networking_updated",
            organisation_id=owner,
            target=f"event:{event_id}",
            tables=len(data.tables),
        )
