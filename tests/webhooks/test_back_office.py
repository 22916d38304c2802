"""The webhook pages of the back office: owners manage, editors read, viewers 403, other
organisations 404; the secret is shown once; test ping, rotate, disable/enable, send again,
delete — each with the real sender and receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from events.tables import AuditLog, Webhook, WebhookDelivery
from tests.conftest import TEST_HOST
from tests.integration.helpers import (
    csrf_from_html,
    from_address,
    make_organisation,
    make_organiser,
    sign_in,
    unique_address,
)
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import deliveries_of, drain, verify


@pytest.fixture
async def browsers(app: Any) -> AsyncIterator[dict[str, AsyncTestClient[Any]]]:
    opened: dict[str, AsyncTestClient[Any]] = {}
    for name in ("owner", "editor", "viewer", "stranger", "anonymous"):
        client: AsyncTestClient[Any] = AsyncTestClient(
            app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}"
        )
        client.headers["Accept-Language"] = "en"  # these tests read the pages' English wording
        await client.__aenter__()
        opened[name] = client
    try:
        yield opened
    finally:
        # Last opened, first closed: closing in opening order hangs in the lifespan shutdown.
        for client in reversed(opened.values()):
            await client.__aexit__(None, None, None)


async def _signed_in(browsers: dict[str, AsyncTestClient[Any]]) -> tuple[int, int]:
    """An organisation with an owner, editor and viewer, and a stranger who owns another one."""
    slug, org_id = await make_organisation("hooks")
    other_slug, other_id = await make_organisation("other")
    for role in ("owner", "editor", "viewer"):
        response = await sign_in(browsers[role], await make_organiser(slug, role=role))
        assert response.status_code in (302, 303)
    await sign_in(browsers["stranger"], await make_organiser(other_slug, role="owner"))
    return org_id, other_id


async def _post(client: AsyncTestClient[Any], target: str, **fields: Any) -> Any:
    page = await client.get("/login")
    return await client.post(target, data={"_csrf_token": csrf_from_html(page.text), **fields}, follow_redirects=False)


async def _create(client: AsyncTestClient[Any], org_id: int, url: str, events: list[str]) -> Any:
    return await _post(client, f"/admin/webhooks?organisation={org_id}", url=url, description="CRM", events=events)


async def test_an_owner_manages_a_webhook_and_sees_its_secret_once(
    browsers: dict[str, AsyncTestClient[Any]], receiver: Receiver
) -> None:
    org_id, _ = await _signed_in(browsers)
    owner = browsers["owner"]
    page = await owner.get(f"/admin/webhooks?organisation={org_id}")
    assert page.status_code == 200 and 'name="url"' in page.text

    created = await _create(owner, org_id, receiver.url, ["registration.created", "event.cancelled"])
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    hook = await Webhook.select().where(Webhook.organisation == org_id).first()
    assert hook is not None and hook["events"] == "registration.created,event.cancelled"
    secret = hook["secret"]
    assert secret.startswith("whsec_") and secret in created.text
    log_url = f"/admin/webhooks/{hook['id']}?organisation={org_id}"
    for url in (f"/admin/webhooks?organisation={org_id}", log_url):
        again = await owner.get(url)
        assert again.status_code == 200 and secret not in again.text, "the secret is never shown again"

    # Test ping, through the real sender, signed with the secret.
    pinged = await _post(owner, f"/admin/webhooks/{hook['id']}/test?organisation={org_id}")
    assert pinged.status_code == 303 and pinged.headers["location"].startswith(log_url)
    assert await drain() == 1
    [ping] = receiver.received
    assert ping.headers["trefpunt-event"] == "ping" and verify(secret, ping.headers["trefpunt-signature"], ping.body)
    log_page = await owner.get(log_url)
    assert "ping" in log_page.text and "Delivered" in log_page.text
    assert json.dumps(ping.json["id"]) in log_page.text.replace("&#34;", '"'), "the payload viewer shows the body"

    # A new secret: shown once, used from now on.
    rotated = await _post(owner, f"/admin/webhooks/{hook['id']}/rotate-secret?organisation={org_id}")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new_secret = (await Webhook.select(Webhook.secret).where(Webhook.id == hook["id"]).first() or {})["secret"]
    assert new_secret != secret and new_secret in rotated.text
    await _post(owner, f"/admin/webhooks/{hook['id']}/test?organisation={org_id}")
    await drain()
    second = receiver.received[1]
    assert verify(new_secret, second.headers["trefpunt-signature"], second.body)
    assert not verify(secret, second.headers["trefpunt-signature"], second.body)

    # Send again: a failed delivery goes out once more, with the same id.
    first_row = (await deliveries_of(hook["id"]))[0]
    await WebhookDelivery.update({WebhookDelivery.status: "failed", WebhookDelivery.last_error: "HTTP 500"}).where(
        WebhookDelivery.id == first_row["id"]
    )
    resent = await _post(
        owner, f"/admin/webhooks/{hook['id']}/deliveries/{first_row['id']}/resend?organisation={org_id}"
    )
    assert resent.status_code == 303
    await drain()
    assert receiver.received[-1].headers["trefpunt-delivery"] == ping.headers["trefpunt-delivery"]
    not_failed = await _post(
        owner, f"/admin/webhooks/{hook['id']}/deliveries/{first_row['id']}/resend?organisation={org_id}"
    )
    assert not_failed.status_code == 409, "only a failed delivery is sent again"

    # Disable, enable, delete.
    assert (await _post(owner, f"/admin/webhooks/{hook['id']}/disable?organisation={org_id}")).status_code == 303
    assert (await Webhook.select(Webhook.active).where(Webhook.id == hook["id"]).first() or {})["active"] is False
    refused = await _post(owner, f"/admin/webhooks/{hook['id']}/test?organisation={org_id}")
    assert refused.status_code == 409 and "Enable the webhook first." in refused.text
    assert (await _post(owner, f"/admin/webhooks/{hook['id']}/enable?organisation={org_id}")).status_code == 303
    assert (await Webhook.select(Webhook.active).where(Webhook.id == hook["id"]).first() or {})["active"] is True
    deleted = await _post(owner, f"/admin/webhooks/{hook['id']}/delete?organisation={org_id}")
    assert deleted.status_code == 303
    assert not await Webhook.exists().where(Webhook.id == hook["id"])
    assert not await WebhookDelivery.exists().where(WebhookDelivery.webhook == hook["id"])

    actions = [
        r["action"]
        for r in await AuditLog.select(AuditLog.action).where(AuditLog.organisation == org_id).order_by(AuditLog.id)
        if r["action"].startswith("webhook.")
    ]
    assert actions == [
        "webhook.created",
        "webhook.pinged",
        "webhook.secret_rotated",
        "webhook.pinged",
        "webhook.delivery_resent",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.deleted",
    ]
    assert secret not in json.dumps([r["detail"] for r in await AuditLog.select(AuditLog.detail)])


async def test_the_form_refuses_bad_addresses_and_an_empty_choice(
    browsers: dict[str, AsyncTestClient[Any]], private_destinations_refused: None
) -> None:
    org_id, _ = await _signed_in(browsers)
    owner = browsers["owner"]
    for url, events, message in (
        ("ftp://example.org/hook", ["event.updated"], "Enter a full http:// or https:// address."),
        ("https://example.org/hook", [], "Choose at least one event to send."),
        ("http://127.0.0.1:9/hook", ["event.updated"], "only be sent to public addresses"),
        ("http://169.254.169.254/latest", ["event.updated"], "only be sent to public addresses"),
    ):
        response = await _create(owner, org_id, url, events)
        assert response.status_code == 422, (url, response.status_code)
        assert message in response.text and 'aria-invalid="true"' in response.text
    assert not await Webhook.exists().where(Webhook.organisation == org_id)
    fine = await _create(owner, org_id, "https://crm.example.org/hooks", ["event.updated"])
    assert fine.status_code == 201


async def test_editors_read_viewers_and_strangers_do_not_and_only_owners_change(
    browsers: dict[str, AsyncTestClient[Any]], receiver: Receiver
) -> None:
    org_id, other_id = await _signed_in(browsers)
    assert (await _create(browsers["owner"], org_id, receiver.url, ["event.updated"])).status_code == 201
    hook = await Webhook.select().where(Webhook.organisation == org_id).first()
    assert hook is not None
    list_url = f"/admin/webhooks?organisation={org_id}"
    log_url = f"/admin/webhooks/{hook['id']}?organisation={org_id}"
    changes = [
        f"/admin/webhooks/{hook['id']}/{action}?organisation={org_id}"
        for action in ("test", "enable", "disable", "rotate-secret", "delete")
    ]

    editor = browsers["editor"]
    listed = await editor.get(list_url)
    assert listed.status_code == 200 and receiver.url in listed.text and 'name="url"' not in listed.text
    logged = await editor.get(log_url)
    assert logged.status_code == 200 and "rotate-secret" not in logged.text
    assert (await _create(editor, org_id, "https://example.org/x", ["event.updated"])).status_code == 403
    for url in changes:
        assert (await _post(editor, url)).status_code == 403, url

    viewer = browsers["viewer"]
    for url in (list_url, log_url):
        assert (await viewer.get(url)).status_code == 403, url
    for url in changes:
        assert (await _post(viewer, url)).status_code == 403, url

    stranger = browsers["stranger"]
    for url in (list_url, log_url, f"/admin/webhooks/{hook['id']}?organisation={other_id}"):
        response = await stranger.get(url)
        assert response.status_code == 404 and receiver.url not in response.text, url
    for url in [*changes, *(u.replace(f"organisation={org_id}", f"organisation={other_id}") for u in changes)]:
        assert (await _post(stranger, url)).status_code == 404, url

    anonymous = await browsers["anonymous"].get(log_url, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/login")
    after = await Webhook.select().where(Webhook.id == hook["id"]).first()
    assert after is not None and (after["active"], after["secret"]) == (True, hook["secret"]), "nothing changed"
