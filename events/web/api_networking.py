"""JSON API v1 for networking sessions: a participant's profile, the directory, suggestions.

The participant's private token is the credential, as on their private page.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events.services import networking
from events.services.access import Actor
from events.services.networking import (
    MeetingRequest,
    MeetingSlotView,
    MeetingView,
    ProfileInput,
    ProfileView,
    Schedule,
    Suggestion,
)
from events.web.api import require_json_body
from events.web.auth import bearer_actor, require_actor
from events.web.openapi_docs import BODY, TOKEN, errors


class NetworkingApiController(Controller):
    path = "/api/v1"
    tags = ["networking"]
    dependencies = {"actor": Provide(bearer_actor)}
    opt = {"skip_session": True}

    @get("/me/{token:str}/profile", summary="One's networking profile (participant token)", responses=errors(404))
    async def get_profile(self, token: FromPath[str]) -> ProfileView:
        return await networking.get_profile(token)

    @put(
        "/me/{token:str}/profile",
        before_request=require_json_body,
        summary="Save one's profile; opt_in false hides it at once",
        responses=errors(404, *BODY),
    )
    async def put_profile(self, token: FromPath[str], data: JSONBody[ProfileInput]) -> ProfileView:
        return await networking.put_profile(token, data)

    @get(
        "/me/{token:str}/directory",
        summary="Opted-in participants of one's event (no contact data)",
        responses=errors(404),
    )
    async def directory(
        self,
        token: FromPath[str],
        tag: Annotated[str | None, QueryParameter(max_length=40)] = None,
        sector: Annotated[str | None, QueryParameter(max_length=100)] = None,
        language: FromQuery[Literal["nl", "fr", "en"] | None] = None,
    ) -> list[ProfileView]:
        return await networking.directory(token, tag=tag, sector=sector, language=language)

    @get("/me/{token:str}/suggestions", summary="People to meet, ranked, with the reason", responses=errors(404))
    async def suggestions(self, token: FromPath[str]) -> list[Suggestion]:
        return await networking.suggestions(token)

    @get("/me/{token:str}/meeting-slots", summary="Meeting slots in which one is free", responses=errors(404))
    async def meeting_slots(self, token: FromPath[str]) -> list[MeetingSlotView]:
        return await networking.free_meeting_slots(token)

    @get("/me/{token:str}/meetings", summary="One's meetings and requests", responses=errors(404, 409))
    async def meetings(self, token: FromPath[str]) -> list[MeetingView]:
        return await networking.my_meetings(token)

    @post(
        "/me/{token:str}/meetings",
        status_code=HTTP_201_CREATED,
        before_request=require_json_body,
        summary="Ask someone from the directory for a meeting in a slot",
        responses=errors(404, 409, *BODY),
    )
    async def request_meeting(self, token: FromPath[str], data: JSONBody[MeetingRequest]) -> MeetingView:
        meeting_id = await networking.request_meeting(token, data)
        return await networking.meetings_by_id(token, meeting_id)

    @post(
        "/me/{token:str}/meetings/{meeting_id:int}/{action:str}",
        status_code=HTTP_200_OK,
        summary="accept | decline | cancel a meeting",
        responses=errors(404, 409),
    )
    async def meeting_action(
        self, token: FromPath[str], meeting_id: FromPath[int], action: FromPath[str]
    ) -> MeetingView:
        if action == "accept":
            return await networking.accept_meeting(token, meeting_id)
        if action == "decline":
            return await networking.decline_meeting(token, meeting_id)
        if action == "cancel":
            return await networking.cancel_meeting(token, meeting_id)
        raise NotFoundException()

    @get(
        "/events/{event_id:int}/meetings",
        summary="The meeting schedule of an event (organisers)",
        description="People appear as the token's organisation may see them (a co-host without a "
        "person's consent: a pseudonym).",
        responses=errors(401, 404),
        security=TOKEN,
    )
    async def schedule(self, event_id: FromPath[int], actor: NamedDependency[Actor | None]) -> Schedule:
        return await networking.meeting_schedule(require_actor(actor), event_id)

    @get(
        "/events/{event_id:int}/directory",
        summary="The directory of an event (organisers)",
        description="People appear as the token's organisation may see them (a co-host without a "
        "person's consent: a pseudonym, no company, about or link).",
        responses=errors(401, 404),
        security=TOKEN,
    )
    async def organiser_directory(
        self, event_id: FromPath[int], actor: NamedDependency[Actor | None]
    ) -> list[ProfileView]:
        return await networking.organiser_directory(require_actor(actor), event_id)
