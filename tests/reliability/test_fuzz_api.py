"""schemathesis over the real `/schema/openapi.json`: whatever an integrator sends, the API never
answers 5xx, answers only status codes its document lists, and its answers fit the documented
schemas.

One real `trefpunt serve` (rate limits off, inline worker) on a database of its own, seeded with
a published info session with questions and a registration, a consultation day with slots and a
booking, so generated requests reach real rows: path parameters are drawn from the seeded ids and
tokens as often as from schemathesis' own values. The whole API is fuzzed twice: anonymously and
with an organisation's owner token as bearer auth. Deterministic (derandomize, fixed seed) and
bounded (max examples per operation) so it fits the suite's budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import private_database, serving
from tests.consultations.helpers import advisor, consultation, day, day_payload, window
from tests.integration.helpers import bearer, event_payload, make_organisation, make_token

pytestmark = pytest.mark.serve

MAX_EXAMPLES = 4
SEED = 20261123
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass(frozen=True)
class Seeded:
    """The fuzzed server and the rows generated requests should meet."""

    url: str
    token: str
    path_values: dict[str, list[Any]]


@pytest.fixture(scope="module")
def fuzz_database() -> Iterator[str]:
    with private_database("fuzz", for_subprocesses=True) as url:
        yield url


@pytest.fixture(scope="module")
async def organisation(fuzz_database: str) -> tuple[str, str]:
    slug, _ = await make_organisation("fuzz")
    return slug, await make_token(slug, role="owner")


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"{response.request.url}: {response.status_code} {response.text}"
    return dict(response.json())


def _token_of(manage_url: str) -> str:
    return manage_url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def seeded(organisation: tuple[str, str]) -> Iterator[Seeded]:
    slug, token = organisation
    with serving("fuzz", TREFPUNT_RATE_LIMIT="off") as server, server.client(headers=bearer(token)) as http:
        session = _created(http.post("/api/v1/events", json=event_payload(capacity=2)))
        questions = [
            {"kind": "short_text", "label": {"nl": "Wat wil je leren?", "en": "What do you want to learn?"}},
            {
                "kind": "single",
                "label": {"nl": "Sector", "en": "Sector"},
                "required": True,
                "options": [{"key": "horeca", "nl": "Horeca"}, {"key": "retail", "nl": "Handel"}],
            },
        ]
        asked = http.put(f"/api/v1/events/{session['id']}/questions", json=questions).json()
        _created(http.post(f"/api/v1/events/{session['id']}/publish"))
        answers = {str(asked[1]["id"]): "horeca"}
        person = {"name": "Sofie Claeys", "email": "sofie@fuzz.example", "language": "nl", "answers": answers}
        registration = _created(http.post(f"/api/v1/events/{session['id']}/registrations", json=person))

        start = day(40)
        advisors = [advisor("Piet", "piet@fuzz.example", [window(start, 180)], topics=["microcredit"])]
        payload = day_payload(start - timedelta(hours=1), start + timedelta(hours=8), consultation(advisors))
        consultation_day = _created(http.post("/api/v1/events", json=payload))
        _created(http.post(f"/api/v1/events/{consultation_day['id']}/publish"))
        slots = http.get(f"/api/v1/events/{consultation_day['id']}/slots").json()
        assert len(slots) >= 4, slots
        booker = {"name": "Jan Peeters", "email": "jan@fuzz.example", "language": "nl"}
        booking = _created(http.post(f"/api/v1/slots/{slots[0]['id']}/booking", json=booker))

        yield Seeded(
            url=server.url,
            token=token,
            path_values={
                "event_id": [session["id"], consultation_day["id"]],
                "registration_id": [registration["id"], booking["id"]],
                "slot_id": [slot["id"] for slot in slots[:4]],
                "token": [_token_of(registration["manage_url"]), _token_of(booking["manage_url"])],
                "slug": [slug],
            },
        )


def _schema(seeded: Seeded) -> Any:
    schema = schemathesis.openapi.from_url(f"{seeded.url}/schema/openapi.json")

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        # As often as not a seeded id or token, so operations reach real rows and not only 404.
        if not path_parameters:
            return st.just(path_parameters)
        choices = [path_parameters]
        for name, values in seeded.path_values.items():
            if name in path_parameters:
                choices += [{**path_parameters, name: value} for value in values]
        return st.sampled_from(choices)

    return schema


def _negatable(operation: Any) -> bool:
    """Whether schemathesis can make an invalid request: not when the only input is a token path
    segment, which accepts any string."""
    strings_only = all(
        param.definition.get("schema", {}).get("type") == "string" for param in operation.path_parameters
    )
    return bool(len(operation.query) or len(operation.body) or not strings_only)


def fuzz(seeded: Seeded, headers: dict[str, str], *, organiser_only: bool = False) -> tuple[int, list[str]]:
    """Every operation (or only those that take a token), with valid (positive) and invalid
    (negative) generated requests: the number of requests sent, and one line per operation and
    mode that failed a check."""
    schema = _schema(seeded)
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if organiser_only and not operation.definition.raw.get("security"):
            continue
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _negatable(operation) else [])
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode, hooks=schema.hooks)

            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                # No shrinking: each step is an HTTP request, and the first failing case is
                # reproducible anyway (derandomized).
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                nonlocal sent
                sent += 1
                case.call_and_validate(checks=CHECKS, headers=headers)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing invalid to send after all
            except (Exception, BaseExceptionGroup) as exc:  # failed checks or a transport error: report all
                failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:1500]}")
    return sent, failures


def test_anonymous_requests_get_no_5xx_and_only_documented_answers(seeded: Seeded) -> None:
    sent, failures = fuzz(seeded, {})
    assert sent > 200
    assert not failures, "\n\n".join(failures)


def test_organiser_token_requests_get_no_5xx_and_only_documented_answers(seeded: Seeded) -> None:
    sent, failures = fuzz(seeded, bearer(seeded.token), organiser_only=True)
    assert sent > 100
    assert not failures, "\n\n".join(failures)


# Regressions of what the fuzzer found --------------------------------------------------------


def test_an_id_beyond_the_database_integer_range_is_a_404_not_a_500(seeded: Seeded) -> None:
    huge = 13813227844083359744  # schemathesis' first example: a 500 before (SQLite OverflowError, asyncpg DataError)
    with httpx.Client(base_url=seeded.url, timeout=10, headers=bearer(seeded.token)) as http:
        for method, path in [
            ("GET", f"/api/v1/events/{huge}"),
            ("GET", f"/api/v1/events/{2**31}/slots"),
            ("POST", f"/api/v1/slots/{huge}/unblock"),
            ("GET", f"/events/{huge}/calendar.ics"),
        ]:
            answer = http.request(method, path)
            assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text[:200]}"
        page = http.get(f"/events/{huge}", headers={"Accept": "text/html"})
        assert page.status_code == 404


def test_feeds_are_documented_as_icalendar_with_304_and_404(seeded: Seeded) -> None:
    spec = httpx.get(f"{seeded.url}/schema/openapi.json", timeout=10).json()
    for path in ("/calendar.ics", "/organisations/{slug}/calendar.ics", "/events/{event_id}/calendar.ics"):
        responses = spec["paths"][path]["get"]["responses"]
        assert list(responses["200"]["content"]) == ["text/calendar"], path
        assert "304" in responses, path
    assert "404" in spec["paths"]["/organisations/{slug}/calendar.ics"]["get"]["responses"]
    unknown = httpx.get(f"{seeded.url}/organisations/no-such-organisation/calendar.ics", timeout=10)
    assert unknown.status_code == 404
