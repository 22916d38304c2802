"""The OpenAPI document (/schema/openapi.json) documents every /api/v1 operation with the error
answers it really gives, the bearer-token scheme, and the payloads of the six webhook types."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.integration.helpers import bearer, make_organisation, make_token

WEBHOOK_TYPES = {
    "registration.created",
    "registration.cancelled",
    "registration.promoted",
    "booking.created",
    "event.updated",
    "event.cancelled",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def api_operations(app: Any) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api/v1 handler in the app's own route table."""
    found = set()
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            if not handler.include_in_schema:
                continue
            found |= {(method, path) for method in handler.http_methods if method in METHODS}
    return found


async def _spec(client: Any) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = spec["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {path} is not in the document"
    return dict(operation)


def _error_codes(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit() and int(code) >= 400}


async def test_every_api_operation_documents_its_errors_with_the_one_error_body(app, client) -> None:
    spec = await _spec(client)
    operations = api_operations(app)
    assert len(operations) > 30

    error_body = spec["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"status_code", "detail"}
    assert set(error_body["properties"]) == {"status_code", "detail", "extra"}
    undocumented = []
    for method, path in sorted(operations):
        operation = _operation(spec, method, path)
        codes = _error_codes(operation)
        if not {400, 503} <= codes:
            undocumented.append(f"{method} {path}: {sorted(codes)}")
        for code in codes:
            answer = operation["responses"][str(code)]
            assert answer["description"], f"{method} {path} {code}: no description"
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path} {code}: {schema}"
        if operation.get("security") == [{"apiToken": []}]:
            assert 401 in codes, f"{method} {path}: an organiser operation answers 401 without a token"
        if "{" in path:
            assert 404 in codes, f"{method} {path}: what the path names may not exist"
        if "requestBody" in operation:
            assert {413, 415, 422} <= codes, f"{method} {path}: a body can be too large, not JSON, or invalid"
    assert not undocumented, "\n".join(undocumented)
    register = _operation(spec, "POST", "/api/v1/events/{event_id}/registrations")
    assert 429 in _error_codes(register), "registrations are rate limited"


def _concrete(path: str) -> str:
    values = {"token": "x" * 43, "action": "accept"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "999999999"), path)


async def test_the_errors_the_api_really_answers_are_the_documented_ones(app, client) -> None:
    """A small schemathesis: provoke errors on every operation (no token, a bad token, things
    that do not exist, bodies that are not JSON, not valid or too deep) and check that each answer
    is documented, is the error body, and never a 5xx."""
    spec = await _spec(client)
    slug, _ = await make_organisation("openapi")
    viewer = bearer(await make_token(slug, role="viewer"))
    surprises = []
    for method, path in sorted(api_operations(app)):
        operation = _operation(spec, method, path)
        documented = {int(code) for code in operation["responses"] if code.isdigit()}
        url = _concrete(path)
        attempts: list[dict[str, Any]] = [
            {},
            {"headers": {"Authorization": "Bearer not-a-token"}},
            {"headers": viewer},
        ]
        if method in ("POST", "PUT", "PATCH"):
            attempts += [
                {"headers": {**viewer, "Content-Type": "application/json"}, "content": b"{"},
                {"headers": {**viewer, "Content-Type": "text/plain"}, "content": b"hello"},
                {"headers": viewer, "json": {"unexpected": [1, 2, 3]}},
                {"headers": {**viewer, "Content-Type": "application/json"}, "content": b"[" * 5000 + b"]" * 5000},
            ]
        for attempt in attempts:
            response = await client.request(method, url, **attempt)
            status = response.status_code
            if status not in documented:
                surprises.append(f"{method} {url} {list(attempt)}: {status} not documented {sorted(documented)}")
            if status >= 400:
                body = response.json()
                if body.get("status_code") != status or not isinstance(body.get("detail"), str):
                    surprises.append(f"{method} {url}: not the error body: {json.dumps(body)[:200]}")
            assert status < 500, f"{method} {url}: {status} {response.text[:300]}"
    assert not surprises, "\n".join(surprises)


async def test_the_bearer_token_scheme_is_described_and_required_by_organiser_operations(client) -> None:
    spec = await _spec(client)

    scheme = spec["components"]["securitySchemes"]["apiToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "organisation" in scheme["description"] and "role" in scheme["description"]
    organiser = _operation(spec, "GET", "/api/v1/events/{event_id}/registrations")
    assert organiser["security"] == [{"apiToken": []}]
    assert "co-host" in organiser["description"]
    assert "security" not in _operation(spec, "GET", "/api/v1/events"), "the event list is public"
    assert {} in _operation(spec, "GET", "/api/v1/events/{event_id}")["security"], "a token is optional there"


async def test_the_six_webhook_types_are_documented_with_their_payload_and_signature(client) -> None:
    spec = await _spec(client)

    assert spec["openapi"].startswith("3.1")
    assert set(spec["webhooks"]) == WEBHOOK_TYPES
    for event_type, item in spec["webhooks"].items():
        request = item["post"]
        header = next(p for p in request["parameters"] if p["in"] == "header")
        assert header["name"] == "Trefpunt-Signature" and header["required"] is True
        assert "HMAC-SHA256" in header["description"] and "t=" in header["description"]
        body = request["requestBody"]["content"]["application/json"]
        schema = body["schema"]
        assert set(schema["required"]) == {"id", "type", "created_at", "organisation", "data"}
        assert schema["properties"]["type"]["enum"] == [event_type]
        data = schema["properties"]["data"]["properties"]
        assert set(data["event"]["required"]) == {
            "id",
            "uid",
            "title",
            "starts_at",
            "ends_at",
            "status",
            "sequence",
            "url",
        }
        registration = data["registration"]["anyOf"][0]
        assert {"id", "status", "name", "email", "phone", "company", "language", "answers", "created_at"} <= set(
            registration["properties"]
        )
        assert {"type": "null"} in data["registration"]["anyOf"] and {"type": "null"} in data["booking"]["anyOf"]
        assert registration["properties"]["created_at"]["format"] == "date-time"
        (example,) = body["examples"].values()
        assert example["value"]["type"] == event_type
        has_registration = event_type.startswith(("registration.", "booking."))
        # (Litestar leaves null values out of examples.)
        assert (example["value"]["data"].get("registration") is not None) == has_registration
        assert (example["value"]["data"].get("booking") is not None) == (event_type == "booking.created")
    assert "Trefpunt-Signature" in spec["info"]["description"]
