"""Liveness with a database round trip, for load balancers and `make run`."""

from __future__ import annotations

from litestar import Response, get

from events.tables import Organisation


@get("/health", include_in_schema=True, opt={"skip_session": True}, tags=["meta"])
async def health() -> Response[dict[str, str]]:
    """`{"status": "ok"}` when the app answers and the database is reachable, else 503."""
    try:
        await Organisation.select(Organisation.id).limit(1)
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        return Response({"status": "unavailable", "database": "error"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
