"""Organiser sessions (server-side, id rotated at sign-in) and API bearer tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig

from events.services.access import Actor
from events.services.errors import Unauthenticated
from events.services.organisers import organiser_actor, token_actor

NEW_SESSION_ID = "trefpunt.new_session_id"
SESSION_COOKIE = "trefpunt_session"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps the cookie's id forever; we give a fresh one at sign-in (no fixation)."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = connection.scope.get(NEW_SESSION_ID)
        return str(new_id) if new_id else super().get_session_id(connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class: type[ServerSideSessionBackend] = field(default=RotatingSessionBackend, init=False)


async def rotate_session(request: Request[Any, Any, Any], data: dict[str, Any]) -> None:
    """Drop the old session from the store and start a new one under a new id."""
    old_id = request.cookies.get(SESSION_COOKIE)
    store = request.app.stores.get("sessions")
    if old_id:
        await store.delete(old_id)
    request.scope[NEW_SESSION_ID] = secrets.token_hex(32)  # type: ignore[literal-required,unused-ignore]
    request.set_session(data)


async def session_organiser(request: Request[Any, Any, Any]) -> Actor:
    """Dependency: the signed-in organiser, or 401 (pages turn it into a redirect to /login)."""
    organiser_id = request.session.get("organiser_id") if request.scope.get("session") else None
    actor = await organiser_actor(int(organiser_id)) if organiser_id else None
    if actor is None:
        raise NotAuthorizedException()
    return actor


async def bearer_actor(request: Request[Any, Any, Any]) -> Actor | None:
    """Dependency: the API token's actor, None without a header, 401 for a bad token."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    actor = await token_actor(token.strip())
    if actor is None:
        raise Unauthenticated()
    return actor


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated()
    return actor
