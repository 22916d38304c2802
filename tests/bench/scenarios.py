"""The HTTP scenarios of the benchmark and their targets (issue 9), shared by both phases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    # Ratio of this scenario's requests/s to /health's in the same run (None: no target).
    target: float | None = None
    # "get": wrk's own requests; "post": lua/post.lua builds one unique request at a time.
    method: str = "get"
    connections: int = 32
    # For 304 scenarios: send the ETag of a first 200 as If-None-Match.
    if_none_match: bool = False
    # For POST storms: the paths to spread over, and how ("cycle" or "random").
    post_paths: tuple[str, ...] = ()
    pick: str = "cycle"
    expected: tuple[int, ...] = (200,)
    extra: dict[str, Any] = field(default_factory=dict)


def http_scenarios(manifest: dict[str, Any]) -> list[Scenario]:
    """Every scenario driven with wrk against `trefpunt serve`, /health first."""
    org = manifest["main_organisation"]
    events = manifest["open_events"]
    slots = manifest["slots"]
    return [
        Scenario("/health (baseline)", "/health"),
        Scenario("/events page 1", "/events", target=0.25),
        Scenario("/events filtered", manifest["filtered_events"], target=0.25),
        Scenario("event page", f"/events/{manifest['event_page']}", target=0.25),
        Scenario("JSON event list", "/api/v1/events", target=0.25),
        Scenario("/calendar.ics 200", "/calendar.ics", target=0.20),
        Scenario("/calendar.ics 304", "/calendar.ics", target=0.50, if_none_match=True, expected=(304,)),
        Scenario("org feed 200", f"/organisations/{org}/calendar.ics", target=0.20),
        Scenario(
            "org feed 304", f"/organisations/{org}/calendar.ics", target=0.50, if_none_match=True, expected=(304,)
        ),
        Scenario("personal feed", f"/me/{manifest['feed_token']}/calendar.ics"),
        Scenario(
            "registrations POST",
            f"/api/v1/events/{events[0]}/registrations",
            target=0.05,
            method="post",
            connections=64,
            post_paths=tuple(f"/api/v1/events/{event}/registrations" for event in events),
            expected=(201,),
        ),
        Scenario(
            "slot booking storm",
            f"/api/v1/slots/{slots[0]}/booking",
            method="post",
            connections=64,
            post_paths=tuple(f"/api/v1/slots/{slot}/booking" for slot in slots),
            pick="random",
            expected=(201, 409),
        ),
    ]


def scale_paths(manifest: dict[str, Any]) -> dict[str, str]:
    """What the scale check compares between a small and a large data set."""
    return {
        "/events page 1": "/events",
        "event page": f"/events/{manifest['event_page']}",
        "org feed": f"/organisations/{manifest['main_organisation']}/calendar.ics",
        "JSON event list": "/api/v1/events",
    }
