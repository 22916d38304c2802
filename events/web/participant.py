"""Participants: the registration form, the private page /r/{token} and the personal feed.

A GET never changes anything (mail scanners follow links): confirming and cancelling are
buttons that POST. Tokens live only in paths, which are kept out of logs and Referer headers.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from events.services import consultations, feeds, networking, notifications, registrations
from events.services import events as event_service
from events.services.consents import purposes_for
from events.services.consultations import BookingInput, SuitableBookingInput
from events.services.errors import N_, DomainError, InvalidInput, NotFound
from events.services.questions import list_questions
from events.services.registrations import RegistrationInput, RegistrationResult
from events.settings import get_settings
from events.tables import Organisation
from events.web.errors import localise
from events.web.feeds import etag_matches

MIN_FILL_SECONDS = 3
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


def form_stamp(event_id: int, now: float | None = None) -> str:
    """A signed time stamp in the form: a bot that posts within seconds is caught."""
    moment = str(int(now if now is not None else time.time()))
    mac = hmac.new(get_settings().secret_key.encode(), f"form:{event_id}:{moment}".encode(), hashlib.sha256)
    return f"{moment}.{mac.hexdigest()[:32]}"


def stamp_age(event_id: int, stamp: str) -> float | None:
    moment, _, _mac = stamp.partition(".")
    if not moment.isdigit() or not hmac.compare_digest(stamp, form_stamp(event_id, float(moment))):
        return None
    return time.time() - int(moment)


async def form_context(event_id: int, *, language: str | None = None, topic: str | None = None) -> dict[str, Any]:
    event = await event_service.get_event(event_id)
    hosts = [event.organisation, *event.hosts]
    ids = [row["id"] for row in await Organisation.select(Organisation.id).where(Organisation.slug.is_in(hosts))]
    context: dict[str, Any] = {
        "event": event,
        "questions": await list_questions(event_id),
        "purposes": await purposes_for(ids),
        "stamp": form_stamp(event_id),
    }
    if event.kind == "consultation_day" and event.status == "published":
        try:
            slots = await consultations.free_slots(event_id, language=language, topic=topic)
            everyone = await consultations.free_slots(event_id)
        except NotFound:
            slots, everyone = [], []
        groups: dict[datetime, list[consultations.SlotView]] = {}
        for slot in slots:
            groups.setdefault(slot.starts_at, []).append(slot)
        context.update(
            slot_groups=sorted(groups.items()),
            topics=sorted({t for s in everyone for t in s.advisor.topics}),
            slot_filter={"language": language, "topic": topic},
        )
    return context


def _form_answers(form: dict[str, Any], questions: list[Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in questions:
        key = f"q{question.id}"
        if question.kind == "multiple":
            value = form.get(key)
            answers[str(question.id)] = value if isinstance(value, list) else ([value] if value else [])
        elif question.kind == "yes_no":
            if form.get(key) in ("yes", "no"):
                answers[str(question.id)] = form.get(key) == "yes"
        elif form.get(key):
            answers[str(question.id)] = str(form.get(key))
    return answers


def _person(values: dict[str, Any], form: Any, questions: list[Any], default_language: str) -> dict[str, Any]:
    """The participant fields both forms share, as the services' input expects them."""
    language = str(values.get("language") or default_language)
    if language not in ("nl", "fr", "en"):
        raise InvalidInput(N_("Choose a language."), field="language")
    return {
        "name": str(values.get("name", ""))[:200],
        "email": str(values.get("email", ""))[:254],
        "language": language,
        "phone": str(values.get("phone", ""))[:50],
        "company": str(values.get("company", ""))[:200],
        "answers": _form_answers(values, questions),
        "consents": [int(v) for v in form.getall("consents", []) if str(v).isdigit()],
    }


async def _submit(
    request: Request[Any, Any, Any],
    event_id: int,
    attempt: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Awaitable[RegistrationResult]],
) -> Template:
    """Bot checks (honeypot, minimum fill time), then the use case; on failure the same page
    again with the error next to the form and the values kept."""
    form = await request.form()
    values = {key: (form.getall(key, []) if len(form.getall(key, [])) > 1 else form.get(key)) for key in form}
    context = await form_context(event_id)
    field: str | None = None
    age = stamp_age(event_id, str(values.get("stamp", "")))
    if values.get("website") or age is None or age < MIN_FILL_SECONDS:
        error = localise(N_("That was quick! Please check the form and send it again."))
    else:
        try:
            language = str(request.scope["state"].get("language", "nl"))
            person = _person(values, form, context["questions"], language)
            result = await attempt(values, person, context)
        except msgspec.ValidationError:
            error = localise(N_("Some fields are not valid."))
        except DomainError as exc:
            if exc.status_code >= 500:
                raise
            error, field = localise(exc.message, **exc.params), exc.field
        else:
            return Template("public/registered.html", context={**context, "result": result})
        # A person who passed the bot checks and only has to correct a field keeps the time they
        # started: with a fresh stamp, fixing a typo within 3 s would be refused as "too quick".
        context["stamp"] = str(values["stamp"])
    return Template(
        "public/event.html",
        context={**context, "form_error": error, "form_field": field, "form": values},
        status_code=422,
    )


class RegistrationFormController(Controller):
    include_in_schema = False

    @post("/events/{event_id:int}/register", name="register")
    async def register(self, request: Request[Any, Any, Any], event_id: FromPath[int]) -> Template:
        async def attempt(values: dict[str, Any], person: dict[str, Any], context: dict[str, Any]) -> Any:
            return await registrations.register(event_id, msgspec.convert(person, RegistrationInput), source="form")

        return await _submit(request, event_id, attempt)


class BookingFormController(Controller):
    include_in_schema = False

    @post("/events/{event_id:int}/book", name="book")
    async def book(self, request: Request[Any, Any, Any], event_id: FromPath[int]) -> Template:
        async def attempt(values: dict[str, Any], person: dict[str, Any], context: dict[str, Any]) -> Any:
            choice = str(values.get("slot") or "")
            person["topic"] = str(values.get("topic") or "") or None
            if choice.startswith("any:"):
                try:
                    starts_at = datetime.fromisoformat(choice[4:])
                except ValueError:
                    raise InvalidInput(N_("Choose a time."), field="slot") from None
                data = msgspec.convert({**person, "starts_at": starts_at}, SuitableBookingInput)
                return await consultations.book_first_suitable(event_id, data, source="form")
            if choice.isdigit():
                return await consultations.book_slot(int(choice), msgspec.convert(person, BookingInput), source="form")
            raise InvalidInput(N_("Choose a time."), field="slot")

        return await _submit(request, event_id, attempt)


class PrivatePageController(Controller):
    path = "/r/{token:str}"
    include_in_schema = False

    @get("/", name="private-page")
    async def page(self, token: FromPath[str], tag: Annotated[str, QueryParameter(max_length=40)] = "") -> Template:
        view = await registrations.private_view(token)
        event = await event_service.get_event(view.registration["event"])
        context: dict[str, Any] = {"view": view, "event": event, "token": token}
        if view.registration["slot"] is not None:
            booking = await notifications.load_booking_facts(view.registration)
            context.update(booking=booking, free_slots=await consultations.free_slots(event.id))
        if event.follow_up_event_id and view.registration["status"] == "confirmed":
            context["follow_up"] = await event_service.get_event(event.follow_up_event_id)
        if event.kind == "networking" and view.registration["status"] == "confirmed":
            profile = await networking.get_profile(token)
            context["networking"] = {
                "profile": profile,
                "suggestions": await networking.suggestions(token) if profile.opt_in else [],
                "directory": await networking.directory(token, tag=tag or None) if profile.opt_in else [],
                "slots": await networking.free_meeting_slots(token),
                "meetings": await networking.my_meetings(token) if profile.opt_in else [],
                "vocabulary": await networking.vocabulary(event.id),
                "tag": tag,
            }
        return Template("public/private.html", context=context, headers=PRIVATE)

    @get("/confirm", name="confirm-page")
    async def confirm_page(self, token: FromPath[str]) -> Template:
        view = await registrations.private_view(token)
        event = await event_service.get_event(view.registration["event"])
        return Template("public/confirm.html", context={"view": view, "event": event, "token": token}, headers=PRIVATE)

    @post("/confirm", name="confirm")
    async def confirm(self, token: FromPath[str]) -> Redirect:
        await registrations.confirm_email(token)
        return Redirect(f"/r/{token}", status_code=303)

    @post("/cancel", name="cancel-registration")
    async def cancel(self, token: FromPath[str]) -> Template:
        view = await registrations.private_view(token)
        event = await event_service.get_event(view.registration["event"])
        await registrations.cancel_by_participant(token)
        return Template("public/cancelled.html", context={"event": event}, headers=PRIVATE)

    @post("/language", name="registration-language")
    async def language(self, token: FromPath[str], data: URLEncodedBody[LanguageForm]) -> Redirect:
        await registrations.change_language(token, data.language)
        return Redirect(f"/r/{token}?lang={data.language}", status_code=303)

    @post("/reschedule", name="reschedule")
    async def reschedule(self, token: FromPath[str], data: URLEncodedBody[RescheduleForm]) -> Redirect:
        await consultations.reschedule(token, data.slot)
        return Redirect(f"/r/{token}", status_code=303)

    @post("/profile", name="networking-profile")
    async def profile(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Redirect:
        form = await request.form()

        def tags(name: str) -> list[str]:
            return [t.strip() for t in str(form.get(name) or "").split(",") if t.strip()]

        data = msgspec.convert(
            {
                "opt_in": form.get("opt_in") == "yes",
                "display_name": str(form.get("display_name") or "")[:200],
                "company": str(form.get("company") or "")[:200],
                "sector": str(form.get("sector") or "")[:100],
                "about": str(form.get("about") or "")[:2000],
                "offers": tags("offers")[:15],
                "looking_for": tags("looking_for")[:15],
                "languages": [v for v in form.getall("languages", []) if v in ("nl", "fr", "en")],
                "link": str(form.get("link") or "")[:300],
            },
            networking.ProfileInput,
        )
        await networking.put_profile(token, data)
        return Redirect(f"/r/{token}#networking", status_code=303)

    @post("/meetings", name="networking-request")
    async def request_meeting(self, token: FromPath[str], data: URLEncodedBody[MeetingForm]) -> Redirect:
        await networking.request_meeting(token, networking.MeetingRequest(with_profile=data.profile, slot=data.slot))
        return Redirect(f"/r/{token}#meetings", status_code=303)

    @post("/meetings/{meeting_id:int}/{action:str}", name="networking-meeting")
    async def meeting_action(self, token: FromPath[str], meeting_id: FromPath[int], action: FromPath[str]) -> Redirect:
        actions = {
            "accept": networking.accept_meeting,
            "decline": networking.decline_meeting,
            "cancel": networking.cancel_meeting,
        }
        if action not in actions:
            raise NotFound()
        await actions[action](token, meeting_id)
        return Redirect(f"/r/{token}#meetings", status_code=303)

    @post("/feed", name="rotate-feed")
    async def rotate(self, token: FromPath[str]) -> Redirect:
        await registrations.rotate_feed(token)
        return Redirect(f"/r/{token}#feed", status_code=303)

    @post("/consents/{purpose_id:int}", name="consent")
    async def consent(
        self, token: FromPath[str], purpose_id: FromPath[int], data: URLEncodedBody[ConsentForm]
    ) -> Redirect:
        await registrations.set_consent(token, purpose_id, data.action == "give")
        return Redirect(f"/r/{token}#consents", status_code=303)


class MeetingForm(msgspec.Struct):
    profile: int
    slot: int


class RescheduleForm(msgspec.Struct):
    slot: int


class LanguageForm(msgspec.Struct):
    language: Literal["nl", "fr", "en"]


class ConsentForm(msgspec.Struct):
    action: Literal["give", "withdraw"]


@get("/me/{token:str}/calendar.ics", opt={"skip_session": True}, include_in_schema=False)
async def personal_feed(
    request: Request[Any, Any, Any], token: FromPath[str], lang: FromQuery[Literal["nl", "fr", "en"] | None] = None
) -> Response[bytes]:
    """Personal feeds are built on request; the ETag is the body's hash."""
    body = await feeds.personal_feed(token, lang)
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="text/calendar", headers=headers)
