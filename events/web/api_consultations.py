"""JSON API v1 for consultation days: free slots, bookings, rescheduling, blocking; advisor feeds."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events.services import consultations
from events.services.access import Actor
from events.services.consultations import BookingInput, SlotView, SuitableBookingInput
from events.services.registrations import RegistrationResult
from events.web.api import require_json_body
from events.web.auth import bearer_actor, require_actor
from events.web.feeds import etag_matches
from events.web.openapi_docs import BODY, TOKEN, errors

Language = Literal["nl", "fr", "en"]


class RescheduleInput(msgspec.Struct, forbid_unknown_fields=True):
    slot: int


class SlotStatus(msgspec.Struct):
    id: int
    status: str


class ConsultationApiController(Controller):
    path = "/api/v1"
    tags = ["consultation days"]
    dependencies = {"actor": Provide(bearer_actor)}
    opt = {"skip_session": True}

    @get("/events/{event_id:int}/slots", summary="Free slots of a consultation day (public)", responses=errors(404))
    async def slots(
        self,
        event_id: FromPath[int],
        language: FromQuery[Language | None] = None,
        topic: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> list[SlotView]:
        return await consultations.free_slots(event_id, language=language, topic=topic)

    @post(
        "/slots/{slot_id:int}/booking",
        status_code=HTTP_201_CREATED,
        before_request=require_json_body,
        summary="Book a slot (public; 409 when it is taken)",
        responses=errors(404, 409, *BODY),
    )
    async def book(self, slot_id: FromPath[int], data: JSONBody[BookingInput]) -> RegistrationResult:
        return await consultations.book_slot(slot_id, data)

    @post(
        "/events/{event_id:int}/booking",
        status_code=HTTP_201_CREATED,
        before_request=require_json_body,
        summary="Book the first suitable advisor at a time (routing by language and topic)",
        responses=errors(404, 409, *BODY),
    )
    async def book_suitable(self, event_id: FromPath[int], data: JSONBody[SuitableBookingInput]) -> RegistrationResult:
        return await consultations.book_first_suitable(event_id, data)

    @post(
        "/bookings/{token:str}/reschedule",
        status_code=HTTP_200_OK,
        before_request=require_json_body,
        summary="Move one's appointment to another free slot (participant token)",
        responses=errors(404, 409, *BODY),
    )
    async def reschedule(self, token: FromPath[str], data: JSONBody[RescheduleInput]) -> SlotStatus:
        return SlotStatus(id=await consultations.reschedule(token, data.slot), status="booked")

    @post(
        "/registrations/{registration_id:int}/move",
        status_code=HTTP_200_OK,
        before_request=require_json_body,
        summary="Move a booking to another slot or advisor (organisers)",
        responses=errors(401, 403, 404, 409, *BODY),
        security=TOKEN,
    )
    async def move(
        self, registration_id: FromPath[int], data: JSONBody[RescheduleInput], actor: NamedDependency[Actor | None]
    ) -> SlotStatus:
        slot = await consultations.move_booking(require_actor(actor), registration_id, data.slot)
        return SlotStatus(id=slot, status="booked")

    @post(
        "/slots/{slot_id:int}/block",
        status_code=HTTP_200_OK,
        summary="Block a free slot (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def block(self, slot_id: FromPath[int], actor: NamedDependency[Actor | None]) -> SlotStatus:
        await consultations.set_blocked(require_actor(actor), slot_id, True)
        return SlotStatus(id=slot_id, status="blocked")

    @post(
        "/slots/{slot_id:int}/unblock",
        status_code=HTTP_200_OK,
        summary="Free a blocked slot (organisers)",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def unblock(self, slot_id: FromPath[int], actor: NamedDependency[Actor | None]) -> SlotStatus:
        await consultations.set_blocked(require_actor(actor), slot_id, False)
        return SlotStatus(id=slot_id, status="free")


@get("/advisors/{token:str}/calendar.ics", opt={"skip_session": True}, include_in_schema=False)
async def advisor_feed(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
    """An advisor's private feed of their appointments."""
    body = await consultations.advisor_feed(token)
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="text/calendar", headers=headers)
