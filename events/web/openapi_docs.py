"""What the OpenAPI document says beyond what Litestar derives from the handlers: the error
answers of every /api/v1 operation, the bearer-token scheme, and the webhook payloads (OpenAPI
3.1 top-level `webhooks`).

Handlers name their errors with `responses=errors(...)` and their credential with
`security=TOKEN`; `openapi_config()` is the app's OpenAPIConfig.
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
    Tag,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from events.services.webhooks import EVENT_TYPES, SIGNATURE_HEADER

# Errors ------------------------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer of the API: the status again, a message in the request's language
    (`Accept-Language` or `?lang=`), and for invalid input the field(s) concerned."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[dict[str, Any]] | None = None


ERRORS: dict[int, str] = {
    400: "The request could not be understood: malformed JSON, a body that is not UTF-8 or nests too "
    "deeply, or a query or path parameter of the wrong type or range. `extra` lists the offending keys.",
    401: "No valid API token: the `Authorization: Bearer <token>` header is missing (for an organiser "
    "operation), malformed, unknown or revoked. Comes with `WWW-Authenticate: Bearer`.",
    403: "The token's role does not allow this: a viewer token that changes something, or a co-host "
    "organisation's token that changes the owner's event (co-hosts read, owners and editors of the "
    "owning organisation change).",
    404: "No such resource, a participant token that is unknown or dead (cancelled, erased), a draft "
    "event for someone who does not host it — or something of an organisation the token has no role "
    "in: 404, not 403, so nothing leaks about other organisations.",
    409: "Conflicts with the current state: registration closed or the event full without a waiting "
    "list, a slot just taken, a cancelled event, a status that does not allow the action.",
    413: "The body is larger than the configured limit.",
    415: "A body was sent without `Content-Type: application/json`.",
    422: "The body is well-formed JSON but breaks the schema or a rule (a naive datetime, an end before "
    "the start, an invalid email address, an unknown consent purpose…). `extra.field` names the field, "
    "or `extra` lists the schema violations.",
    429: "Too many registrations: at most 30 a minute per client address and 600 a minute per event. Wait and retry.",
    503: "The database is busy; retry after the `Retry-After` seconds. Nothing was changed.",
}

# Organiser operations need a token; public ones accept one (a host's token also sees drafts).
TOKEN: list[SecurityRequirement] = [{"apiToken": []}]
OPTIONAL_TOKEN: list[SecurityRequirement] = [{}, {"apiToken": []}]
# What a JSON body can add to an operation's errors.
BODY = (413, 415, 422)


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """`responses=` of an API handler: the given error codes, plus 400 and 503 that any
    operation can answer, each with the one error body."""
    wanted = sorted({400, 503, *codes})
    return {
        code: ResponseSpec(
            data_container=ErrorBody,
            description=ERRORS[code],
            generate_examples=False,
            examples=[Example(summary=str(code), value={"status_code": code, "detail": "…"})],
        )
        for code in wanted
    }


# Webhook payloads ---------------------------------------------------------------------------------

# ISO 8601 with an offset (UTC), e.g. 2027-03-02T17:00:00+00:00.
Moment = Annotated[datetime, msgspec.Meta(tz=True, extra_json_schema={"format": "date-time"})]


class WebhookEvent(msgspec.Struct):
    """The event concerned, as its public page shows it."""

    id: int
    uid: str
    title: dict[str, str]
    starts_at: Moment
    ends_at: Moment
    status: Literal["draft", "published", "cancelled"]
    sequence: int
    url: str


class WebhookRegistration(msgspec.Struct):
    """A registration as the receiving organisation may see it: for a co-host without the
    person's consent, `name` is a pseudonym (`#<id>`), the contact fields are empty, `answers`
    is `{}` and `redacted` is true. Answers only ever go to the owning organisation."""

    id: int
    status: Literal["pending_email", "pending_approval", "confirmed", "waitlisted", "cancelled", "rejected"]
    name: str
    email: str
    phone: str
    company: str
    language: Literal["nl", "fr", "en"]
    answers: dict[str, Any]
    created_at: Moment
    redacted: bool = False


class WebhookAdvisor(msgspec.Struct):
    id: int
    name: str


class WebhookBooking(msgspec.Struct):
    """A consultation-day appointment (booking.created)."""

    id: int
    uid: str | None
    slot_id: int
    starts_at: Moment
    ends_at: Moment
    advisor: WebhookAdvisor | None


class WebhookData(msgspec.Struct):
    event: WebhookEvent
    registration: WebhookRegistration | None
    booking: WebhookBooking | None


class WebhookPayload(msgspec.Struct):
    """The JSON body of every webhook request."""

    id: str  # unique per delivery: receivers drop a repeated id (retries resend the same id)
    type: Literal[
        "registration.created",
        "registration.cancelled",
        "registration.promoted",
        "booking.created",
        "event.updated",
        "event.cancelled",
    ]
    created_at: Moment
    organisation: str  # slug of the receiving organisation
    data: WebhookData


WEBHOOK_DESCRIPTIONS = {
    "registration.created": "Someone registered (any status: confirmed, waitlisted, pending). "
    "`registration` is set, `booking` is null.",
    "registration.cancelled": "A registration was cancelled by the participant or an organiser. `registration` is set.",
    "registration.promoted": "A waitlisted person got a place. `registration` is set.",
    "booking.created": "A consultation-day slot was booked. `registration` and `booking` are set.",
    "event.updated": "An event's details changed (its `sequence` rises when time, place or link "
    "change). `registration` and `booking` are null.",
    "event.cancelled": "An event was cancelled. `registration` and `booking` are null.",
}

SIGNATURE_DESCRIPTION = (
    "`t=<unix seconds>,v1=<hex>` where `<hex>` is HMAC-SHA256 with the webhook's secret over "
    '`"<t>.<raw body>"`. Recompute it over the raw body, compare in constant time, and refuse a `t` '
    "more than a few minutes old (replays)."
)

WEBHOOKS_INTRO = (
    "\n\n## Webhooks\n\nAn organisation's owners subscribe a URL to event types in the back office "
    "(`/admin/webhooks`). Each change is sent as a `POST` with a JSON body (see *Webhooks* below) "
    f"and a `{SIGNATURE_HEADER}` header: {SIGNATURE_DESCRIPTION} Any 2xx answer within 10 seconds "
    "counts as delivered; anything else is retried with growing pauses, and a webhook that keeps "
    "failing is disabled and its owners are mailed. Deliveries are at least once: deduplicate on `id`. "
    "A co-host organisation receives only what its consent allows (see `WebhookRegistration`)."
)

AUTH_DESCRIPTION = (
    "An organisation's API token, created by its owners in the back office (`/admin/team/tokens`) or "
    "with `trefpunt api-token --organisation SLUG`, sent as `Authorization: Bearer <token>`. A token "
    "belongs to one organisation and has one role there: `viewer` reads (registrations of events the "
    "organisation hosts), `editor` and `owner` also change the organisation's own events. A token of a "
    "co-host organisation reads the co-hosted event's registrations as its participants' consent "
    "allows, and cannot change the event (403). Anything of another organisation is a 404."
)


def payload_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of `WebhookPayload` for one event type, with every definition written
    out in place.

    Inline rather than under `components`: Litestar 2 rebuilds `components.schemas` from the
    handlers and drops schemas given in the config."""
    (root,), definitions = msgspec.json.schema_components([WebhookPayload], ref_template="{name}")

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if "$ref" in value:
                return resolve(definitions[value["$ref"]])
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    resolved: dict[str, Any] = resolve(root)
    resolved["properties"]["type"] = {"type": "string", "enum": [event_type]}
    return resolved


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_RENAMED = {"not": "schema_not", "if": "schema_if", "else": "schema_else"}


def to_schema(value: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema (as msgspec writes it) as Litestar's OpenAPI objects."""
    if "$ref" in value:
        return Reference(ref=value["$ref"])
    fields: dict[str, Any] = {}
    for key, item in value.items():
        name = _RENAMED.get(key) or _CAMEL.sub("_", key).lower()
        if key == "type":
            item = [OpenAPIType(t) for t in item] if isinstance(item, list) else OpenAPIType(item)
        elif key == "format":
            item = OpenAPIFormat(item)
        elif key == "description":
            item = inspect.cleandoc(item)
        elif key == "properties":
            item = {prop: to_schema(sub) for prop, sub in item.items()}
        elif key in ("anyOf", "oneOf", "allOf"):
            item = [to_schema(sub) for sub in item]
        elif key in ("items", "additionalProperties") and isinstance(item, dict):
            item = to_schema(item)
        fields[name] = item
    return Schema(**fields)


def _example(event_type: str) -> dict[str, Any]:
    event = {
        "id": 42,
        "uid": "event-42@trefpunt.example",
        "title": {"nl": "Infosessie microkrediet", "fr": "Séance d'information microcrédit"},
        "starts_at": "2027-03-02T17:00:00+00:00",
        "ends_at": "2027-03-02T19:00:00+00:00",
        "status": "cancelled" if event_type == "event.cancelled" else "published",
        "sequence": 1,
        "url": "https://trefpunt.example/events/42",
    }
    registration = None
    if event_type.startswith(("registration.", "booking.")):
        registration = {
            "id": 7,
            "status": {"registration.cancelled": "cancelled"}.get(event_type, "confirmed"),
            "name": "#7",
            "email": "",
            "phone": "",
            "company": "",
            "language": "nl",
            "answers": {},
            "created_at": "2027-02-01T09:30:00+00:00",
            "redacted": True,
        }
    booking = None
    if event_type == "booking.created":
        booking = {
            "id": 7,
            "uid": "booking-7@trefpunt.example",
            "slot_id": 3,
            "starts_at": "2027-03-02T09:00:00+00:00",
            "ends_at": "2027-03-02T09:30:00+00:00",
            "advisor": {"id": 2, "name": "An Peeters"},
        }
    return {
        "id": "4f5c2a8e-3d1b-4c4e-9a0e-2b7f1d6c9e01",
        "type": event_type,
        "created_at": "2027-02-01T09:30:01+00:00",
        "organisation": "microkrediet",
        "data": {"event": event, "registration": registration, "booking": booking},
    }


def webhooks() -> dict[str, PathItem | Reference]:
    """One OpenAPI 3.1 webhook per event type: the request Trefpunt sends to a subscribed URL."""
    result: dict[str, PathItem | Reference] = {}
    for event_type in EVENT_TYPES:
        result[event_type] = PathItem(
            post=Operation(
                summary=f"{event_type}",
                description=WEBHOOK_DESCRIPTIONS.get(event_type, ""),
                operation_id=f"webhook_{event_type.replace('.', '_')}",
                tags=["webhooks"],
                parameters=[
                    Parameter(
                        name=SIGNATURE_HEADER,
                        param_in="header",
                        required=True,
                        description=SIGNATURE_DESCRIPTION,
                        schema=Schema(type=OpenAPIType.STRING, pattern=r"^t=\d+,v1=[0-9a-f]{64}$"),
                    )
                ],
                request_body=RequestBody(
                    required=True,
                    content={
                        "application/json": OpenAPIMediaType(
                            schema=to_schema(payload_schema(event_type)),
                            examples={event_type: Example(value=_example(event_type))},
                        )
                    },
                ),
                responses={
                    "2XX": OpenAPIResponse(description="Delivered (within 10 seconds)."),
                    "default": OpenAPIResponse(description="Not delivered: retried later with backoff."),
                },
            )
        )
    return result


def components() -> Components:
    scheme = SecurityScheme(type="http", scheme="bearer", bearer_format="token", description=AUTH_DESCRIPTION)
    return Components(security_schemes={"apiToken": scheme})


def openapi_config(version: str) -> OpenAPIConfig:
    """The app's OpenAPI configuration: /schema (Redoc) and /schema/openapi.json."""
    return OpenAPIConfig(
        title="Trefpunt API",
        version=version,
        path="/schema",
        render_plugins=[RedocRenderPlugin()],
        description=(
            "Events, registrations and bookings of the Trefpunt partner organisations.\n\n"
            "## Authentication\n\n" + AUTH_DESCRIPTION + "\n\n## Errors\n\nEvery error is JSON "
            "`{status_code, detail, extra?}` (`ErrorBody`); each operation lists the codes it can answer."
            + WEBHOOKS_INTRO
        ),
        components=components(),
        webhooks=webhooks(),
        tags=[Tag(name="webhooks", description="Requests Trefpunt sends to an organisation's subscribed URLs.")],
    )
