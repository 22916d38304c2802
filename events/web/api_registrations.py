"""JSON API v1: registrations, questions, consent purposes, broadcasts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from events.services import consents, questions, registrations
from events.services.access import Actor
from events.services.errors import N_
from events.services.events import get_event
from events.services.registrations import RegistrationInput, RegistrationResult, RegistrationRow
from events.web.api import require_json_body
from events.web.auth import bearer_actor, require_actor
from events.web.errors import localise
from events.web.openapi_docs import BODY, OPTIONAL_TOKEN, TOKEN, errors
from events.web.templating import query_url

RegistrationStatus = Literal["pending_email", "pending_approval", "confirmed", "waitlisted", "cancelled", "rejected"]


class RegistrationList(msgspec.Struct, omit_defaults=True):
    items: list[RegistrationRow]
    next: str | None = None


class AttendanceInput(msgspec.Struct, forbid_unknown_fields=True):
    attendance: Literal["attended", "no_show", ""]


class BroadcastInput(msgspec.Struct, forbid_unknown_fields=True):
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]


class BroadcastResult(msgspec.Struct):
    recipients: int


class StatusResult(msgspec.Struct):
    id: int
    status: str


def _owner_of(actor: Actor) -> int:
    return next(iter(actor.roles))


class RegistrationApiController(Controller):
    path = "/api/v1"
    tags = ["registrations"]
    dependencies = {"actor": Provide(bearer_actor)}
    opt = {"skip_session": True}

    @post(
        "/events/{event_id:int}/registrations",
        status_code=HTTP_201_CREATED,
        before_request=require_json_body,
        summary="Register for an event (public)",
        description="201 with the new registration; 200 when this email is already registered (the "
        "private link goes to it again, the answer says no more).",
        responses=errors(404, 409, 429, *BODY),
    )
    async def register(self, event_id: FromPath[int], data: JSONBody[RegistrationInput]) -> Response[Any]:
        result = await registrations.register(event_id, data, source="api")
        if result.status == "already_registered":
            # Says no more than the first answer did: no id, no private link (it went by mail).
            detail = localise(
                N_("You are already registered with this email address. We sent your private link to it again.")
            )
            return Response(RegistrationResult(id=None, status=result.status, detail=detail), status_code=200)
        return Response(result, status_code=HTTP_201_CREATED)

    @get(
        "/events/{event_id:int}/registrations",
        summary="Registrations of an event (organisers)",
        description="Any role of a hosting organisation reads. A co-host's token sees a person's contact "
        "details only with their current consent to one of its purposes (else `name` is a pseudonym, "
        "the contact fields are empty and `redacted` is true) and never the answers.",
        responses=errors(401, 404),
        security=TOKEN,
    )
    async def list_registrations(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[int],
        actor: NamedDependency[Actor | None],
        status: FromQuery[RegistrationStatus | None] = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> RegistrationList:
        who = require_actor(actor)
        items, has_next = await registrations.list_for_organiser(
            who, event_id, status=status, page=page, page_size=limit
        )
        base = str(request.base_url).rstrip("/") + f"/api/v1/events/{event_id}/registrations"
        next_url = query_url(base, {"status": status, "limit": limit}, page=page + 1) if has_next else None
        return RegistrationList(items=items, next=next_url)

    @delete(
        "/registrations/{token:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Cancel a registration with its private token (participant)",
        responses=errors(404),
    )
    async def cancel_with_token(self, token: FromPath[str]) -> None:
        await registrations.cancel_by_participant(token)

    @post(
        "/registrations/{registration_id:int}/approve",
        status_code=HTTP_200_OK,
        summary="Approve (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def approve(self, registration_id: FromPath[int], actor: NamedDependency[Actor | None]) -> StatusResult:
        status = await registrations.approve(require_actor(actor), registration_id)
        return StatusResult(id=registration_id, status=status)

    @post(
        "/registrations/{registration_id:int}/reject",
        status_code=HTTP_200_OK,
        summary="Reject (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def reject(self, registration_id: FromPath[int], actor: NamedDependency[Actor | None]) -> StatusResult:
        await registrations.reject(require_actor(actor), registration_id)
        return StatusResult(id=registration_id, status="rejected")

    @post(
        "/registrations/{registration_id:int}/cancel",
        status_code=HTTP_200_OK,
        summary="Cancel (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def cancel(self, registration_id: FromPath[int], actor: NamedDependency[Actor | None]) -> StatusResult:
        await registrations.cancel_by_organiser(require_actor(actor), registration_id)
        return StatusResult(id=registration_id, status="cancelled")

    @post(
        "/registrations/{registration_id:int}/move-up",
        status_code=HTTP_200_OK,
        summary="Give a waitlisted person a free place now (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def move_up(self, registration_id: FromPath[int], actor: NamedDependency[Actor | None]) -> StatusResult:
        await registrations.move_up(require_actor(actor), registration_id)
        return StatusResult(id=registration_id, status="confirmed")

    @post(
        "/registrations/{registration_id:int}/attendance",
        status_code=HTTP_200_OK,
        before_request=require_json_body,
        summary="Mark attended / no-show (organisers)",
        responses=errors(401, 403, 404, 409, *BODY),
        security=TOKEN,
    )
    async def attendance(
        self, registration_id: FromPath[int], data: JSONBody[AttendanceInput], actor: NamedDependency[Actor | None]
    ) -> StatusResult:
        await registrations.mark_attendance(require_actor(actor), registration_id, data.attendance)
        return StatusResult(id=registration_id, status="confirmed")

    @post(
        "/events/{event_id:int}/broadcast",
        status_code=HTTP_200_OK,
        before_request=require_json_body,
        summary="Mail every confirmed participant (organisers)",
        responses=errors(401, 403, 404, *BODY),
        security=TOKEN,
    )
    async def broadcast(
        self, event_id: FromPath[int], data: JSONBody[BroadcastInput], actor: NamedDependency[Actor | None]
    ) -> BroadcastResult:
        count = await registrations.broadcast(require_actor(actor), event_id, data.subject, data.message)
        return BroadcastResult(recipients=count)

    @get(
        "/events/{event_id:int}/questions",
        summary="The registration questions of an event (public)",
        responses=errors(401, 404),
        security=OPTIONAL_TOKEN,
    )
    async def get_questions(
        self, event_id: FromPath[int], actor: NamedDependency[Actor | None]
    ) -> list[questions.QuestionView]:
        await get_event(event_id, actor)
        return await questions.list_questions(event_id)

    @put(
        "/events/{event_id:int}/questions",
        status_code=HTTP_200_OK,
        before_request=require_json_body,
        summary="Replace the registration questions of an event (organisers)",
        responses=errors(401, 403, 404, *BODY),
        security=TOKEN,
    )
    async def put_questions(
        self,
        event_id: FromPath[int],
        data: JSONBody[Annotated[list[questions.QuestionInput], msgspec.Meta(max_length=50)]],
        actor: NamedDependency[Actor | None],
    ) -> list[questions.QuestionView]:
        return await questions.replace_questions(require_actor(actor), event_id, data)

    @get(
        "/events/{event_id:int}/consent-purposes",
        summary="Consents a registration may give (public)",
        responses=errors(401, 404),
        security=OPTIONAL_TOKEN,
    )
    async def event_purposes(
        self, event_id: FromPath[int], actor: NamedDependency[Actor | None]
    ) -> list[consents.PurposeView]:
        event = await get_event(event_id, actor)
        from events.tables import Organisation

        ids = [
            row["id"]
            for row in await Organisation.select(Organisation.id).where(
                Organisation.slug.is_in([event.organisation, *event.hosts])
            )
        ]
        return await consents.purposes_for(ids)

    @post(
        "/consent-purposes",
        status_code=HTTP_201_CREATED,
        before_request=require_json_body,
        summary="Define a consent purpose of the token's organisation (a new text is a new version)",
        responses=errors(401, 403, *BODY),
        security=TOKEN,
    )
    async def define_purpose(
        self, data: JSONBody[consents.PurposeInput], actor: NamedDependency[Actor | None]
    ) -> consents.PurposeView:
        who = require_actor(actor)
        return await consents.define_purpose(who, _owner_of(who), data)
