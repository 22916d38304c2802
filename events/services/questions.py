"""Registration questions per event, and checking a participant's answers against them."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec

from events.db import write_transaction
from events.services.access import Actor
from events.services.errors import N_, InvalidInput
from events.services.hosts import require_editor
from events.settings import LANGUAGES
from events.tables import Question

QuestionKind = Literal["short_text", "long_text", "single", "multiple", "yes_no"]
MAX_ANSWER = {"short_text": 300, "long_text": 5000}


class OptionInput(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    nl: Annotated[str, msgspec.Meta(max_length=200)] = ""
    fr: Annotated[str, msgspec.Meta(max_length=200)] = ""
    en: Annotated[str, msgspec.Meta(max_length=200)] = ""


class QuestionInput(msgspec.Struct, forbid_unknown_fields=True):
    kind: QuestionKind
    label: dict[Literal["nl", "fr", "en"], Annotated[str, msgspec.Meta(max_length=300)]]
    required: bool = False
    options: Annotated[list[OptionInput], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class QuestionView(msgspec.Struct):
    id: int
    kind: str
    label: dict[str, str]
    required: bool
    options: list[dict[str, str]]


def _view(row: dict[str, Any]) -> QuestionView:
    return QuestionView(
        id=row["id"],
        kind=row["kind"],
        label={lang: row[f"label_{lang}"] for lang in LANGUAGES if row[f"label_{lang}"]},
        required=row["required"],
        options=json.loads(row["options"] or "[]"),
    )


async def list_questions(event_id: int) -> list[QuestionView]:
    rows = await Question.select().where(Question.event == event_id).order_by(Question.position).order_by(Question.id)
    return [_view(row) for row in rows]


async def replace_questions(actor: Actor, event_id: int, questions: list[QuestionInput]) -> list[QuestionView]:
    """Set an event's questions (in order). Answers already given keep their question ids only
    for questions that stay; use PATCH-like edits in the back office to keep ids stable."""
    await require_editor(actor, event_id)
    check_questions(questions)
    async with write_transaction():
        await Question.delete().where(Question.event == event_id)
        for position, question in enumerate(questions):
            await Question.insert(
                Question(
                    event=event_id,
                    position=position,
                    kind=question.kind,
                    required=question.required,
                    options=json.dumps([msgspec.to_builtins(option) for option in question.options]),
                    **{f"label_{lang}": question.label.get(lang, "") for lang in LANGUAGES},  # type: ignore[call-overload]
                )
            )
    return await list_questions(event_id)


def check_questions(questions: list[QuestionInput]) -> None:
    """The rules every set of questions obeys; raises InvalidInput on the first problem."""
    for question in questions:
        if not any(text.strip() for text in question.label.values()):
            raise InvalidInput(N_("Every question needs a label in at least one language."), field="label")
        if question.kind in ("single", "multiple") and len(question.options) < 2:
            raise InvalidInput(N_("A choice question needs at least two options."), field="options")
        keys = [option.key for option in question.options]
        if len(set(keys)) != len(keys):
            raise InvalidInput(N_("Option keys must be unique within a question."), field="options")


async def edit_questions(event_id: int, questions: list[tuple[int | None, QuestionInput]]) -> None:
    """Set an event's questions (in order) keeping the id, and so the answers already given, of
    every question that stays; `None` adds a question, an id left out removes one. Call inside
    the use case's write transaction, after checking the actor may edit the event."""
    check_questions([question for _, question in questions])
    existing = {row["id"] for row in await Question.select(Question.id).where(Question.event == event_id)}
    kept = {question_id for question_id, _ in questions if question_id in existing}
    gone = existing - kept
    if gone:
        await Question.delete().where(Question.id.is_in(list(gone)))
    for position, (question_id, question) in enumerate(questions):
        values: dict[str, Any] = {
            "position": position,
            "kind": question.kind,
            "required": question.required,
            "options": json.dumps([msgspec.to_builtins(option) for option in question.options]),
            **{f"label_{lang}": question.label.get(lang, "").strip() for lang in LANGUAGES},  # type: ignore[call-overload]
        }
        if question_id in kept:
            kept.discard(question_id)  # an id sent twice updates once; the second becomes new
            await Question.update(values).where(Question.id == question_id)  # type: ignore[arg-type]
        else:
            await Question.insert(Question(event=event_id, **values))


def check_answers(questions: list[QuestionView], answers: dict[str, Any]) -> dict[str, Any]:
    """Validated answers keyed by question id (as text); raises InvalidInput on the first problem."""
    by_id = {str(question.id): question for question in questions}
    for key in answers:
        if key not in by_id:
            raise InvalidInput(N_("Unknown question %(id)s."), field="answers", id=str(key)[:20])
    clean: dict[str, Any] = {}
    for key, question in by_id.items():
        value = answers.get(key)
        empty = value is None or value == "" or value == []
        if empty:
            if question.required:
                raise InvalidInput(
                    N_("Please answer the question “%(label)s”."),
                    field=f"answers.{key}",
                    label=question.label or {"nl": key},  # the handler picks the caller's language
                )
            continue
        option_keys = {option["key"] for option in question.options}
        if question.kind in MAX_ANSWER:
            if not isinstance(value, str) or len(value) > MAX_ANSWER[question.kind]:
                raise InvalidInput(N_("This answer is too long or not text."), field=f"answers.{key}")
            clean[key] = value.strip()
        elif question.kind == "yes_no":
            if not isinstance(value, bool):
                raise InvalidInput(N_("Answer yes or no."), field=f"answers.{key}")
            clean[key] = value
        elif question.kind == "single":
            if value not in option_keys:
                raise InvalidInput(N_("Choose one of the options."), field=f"answers.{key}")
            clean[key] = value
        else:
            if not isinstance(value, list) or not all(item in option_keys for item in value):
                raise InvalidInput(N_("Choose among the options."), field=f"answers.{key}")
            clean[key] = sorted(set(value))
    return clean
