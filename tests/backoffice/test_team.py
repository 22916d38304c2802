"""The team: invitations by mail (a link that works once, for seven days), roles and removal with
always one owner left; API tokens shown once, revocable, with their last use; and the audit log,
filterable and limited to one's own organisations."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from events.tables import ApiToken, AuditLog, Invitation, Membership, Organiser, OutboxMessage
from tests.conftest import TEST_HOST
from tests.integration.helpers import (
    PASSWORD,
    bearer,
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    post_form,
    sign_in,
)

NEW_PASSWORD = "a long enough secret"


async def _organiser_id(email: str) -> int:
    row = await Organiser.select(Organiser.id).where(Organiser.email == email).first()
    assert row is not None
    return int(row["id"])


async def _role(email: str, org_id: int) -> str | None:
    row = (
        await Membership.select(Membership.role)
        .where((Membership.organiser.email == email) & (Membership.organisation == org_id))
        .first()
    )
    return None if row is None else str(row["role"])


async def _invite(browser: Any, org_id: int, email: str, role: str = "editor", language: str = "en") -> Any:
    return await post_form(
        browser,
        f"/admin/team/invitations?organisation={org_id}",
        f"/admin/team?organisation={org_id}",
        email=email,
        role=role,
        language=language,
    )


async def _invitation_link(email: str) -> str:
    """The link in the newest invitation mail to `email`, as the invitee would click it."""
    mail = (
        await OutboxMessage.select()
        .where((OutboxMessage.recipient == email) & (OutboxMessage.kind == "team_invitation"))
        .order_by(OutboxMessage.id, ascending=False)
        .first()
    )
    assert mail is not None, f"no invitation mail to {email}"
    match = re.search(rf"http://{re.escape(TEST_HOST)}(/invitations/[A-Za-z0-9_-]+)", mail["text_body"])
    assert match, mail["text_body"]
    assert match.group(1) in mail["html_body"]
    return match.group(1)


async def _accept(browser: Any, link: str, **fields: str) -> Any:
    page = await browser.get(link)
    assert page.status_code == 200, page.status_code
    return await browser.post(link, data={"_csrf_token": csrf_from_html(page.text), **fields}, follow_redirects=False)


async def test_an_invited_person_sets_a_password_and_lands_signed_in_with_the_role(browser, app) -> None:
    from litestar.testing import AsyncTestClient

    slug, org_id = await make_organisation("team", name="Ondernemershuis Gent")
    await sign_in(browser, await make_organiser(slug, role="owner"))
    sent = await _invite(browser, org_id, "New.Person@Example.org", role="editor", language="fr")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/admin/team?organisation={org_id}&done=invited"

    mail = await OutboxMessage.select().where(OutboxMessage.recipient == "new.person@example.org").first()
    assert mail is not None and mail["kind"] == "team_invitation" and mail["status"] == "queued"
    assert mail["language"] == "fr" and mail["organisation"] == org_id
    assert "Ondernemershuis Gent" in mail["subject"]
    link = await _invitation_link("new.person@example.org")
    token = link.rsplit("/", 1)[1]
    stored = await Invitation.select().where(Invitation.organisation == org_id).first()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest(), "only the hash is stored"
    assert len(token) >= 43, "256 random bits"
    assert timedelta(days=6, hours=23) < stored["expires_at"] - stored["created_at"] <= timedelta(days=7)
    team_page = (await browser.get(f"/admin/team?organisation={org_id}&lang=en")).text
    pending = team_page.split("Pending invitations")[1]
    assert "new.person@example.org" in pending and "Editor" in pending

    async with AsyncTestClient(app=app, base_url=f"http://{TEST_HOST}") as invitee:
        page = await invitee.get(link + "?lang=en")
        assert page.status_code == 200 and "Join the team of Ondernemershuis Gent" in page.text
        assert 'name="name"' in page.text and 'name="password_confirm"' in page.text
        assert page.headers["cache-control"] == "no-store"

        short = await _accept(invitee, link, name="Nieuwe Persoon", password="short", password_confirm="short")
        assert short.status_code == 422 and "at least 10 characters" in short.text
        assert 'value="Nieuwe Persoon"' in short.text, "the name is kept"
        assert 'aria-describedby="inv-password-hint invitation-error"' in short.text
        mismatch = await _accept(
            invitee, link, name="Nieuwe Persoon", password=NEW_PASSWORD, password_confirm=NEW_PASSWORD + "!"
        )
        assert mismatch.status_code == 422 and "not the same" in mismatch.text
        assert await _role("new.person@example.org", org_id) is None

        accepted = await _accept(
            invitee, link, name="Nieuwe Persoon", password=NEW_PASSWORD, password_confirm=NEW_PASSWORD
        )
        assert accepted.status_code == 303 and accepted.headers["location"] == "/admin"
        admin = await invitee.get("/admin?lang=en")
        assert admin.status_code == 200 and "Signed in as Nieuwe Persoon" in admin.text
        assert await _role("new.person@example.org", org_id) == "editor"
        assert (await invitee.get(f"/admin/team?organisation={org_id}")).status_code == 200

    # The link works once: a second use, signed in or not, is refused.
    second = await browser.get(link + "?lang=en")
    assert second.status_code == 410 and "already been used" in second.text
    page = await browser.get(f"/admin/team?organisation={org_id}&lang=en")
    replay = await browser.post(
        link,
        data={
            "_csrf_token": csrf_from_html(page.text),
            "name": "Someone",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert replay.status_code == 410
    assert await Organiser.count().where(Organiser.email == "new.person@example.org") == 1

    # The new account signs in with the password they chose.
    assert (await sign_in(browser, "new.person@example.org", NEW_PASSWORD)).status_code == 303
    members = (await browser.get(f"/admin/team?organisation={org_id}&lang=en")).text.split("Pending invitations")
    assert "Nieuwe Persoon" in members[0] and "new.person@example.org" not in members[1]


async def test_expired_revoked_replaced_and_unknown_links_do_not_work(browser) -> None:
    slug, org_id = await make_organisation("team")
    await sign_in(browser, await make_organiser(slug, role="owner"))

    await _invite(browser, org_id, "late@example.org")
    late = await _invitation_link("late@example.org")
    await Invitation.update({Invitation.expires_at: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Invitation.email == "late@example.org"
    )
    expired = await browser.get(late + "?lang=en")
    assert expired.status_code == 410 and "expired" in expired.text
    assert (await browser.get(late + "?lang=nl")).status_code == 410

    await _invite(browser, org_id, "twice@example.org", role="viewer")
    first = await _invitation_link("twice@example.org")
    await _invite(browser, org_id, "twice@example.org", role="editor")
    second = await _invitation_link("twice@example.org")
    assert first != second
    assert (await browser.get(first)).status_code == 404, "inviting again replaces the old link"
    assert (await browser.get(second)).status_code == 200
    pending = (await browser.get(f"/admin/team?organisation={org_id}&lang=en")).text.split("Pending invitations")[1]
    assert pending.count("twice@example.org") == 2, "one row: the address and its revoke button label"
    assert "late@example.org" not in pending, "an expired invitation is no longer pending"

    row = (
        await Invitation.select()
        .where((Invitation.email == "twice@example.org") & Invitation.revoked_at.is_null())
        .first()
    )
    revoked = await post_form(
        browser, f"/admin/team/invitations/{row['id']}/revoke", f"/admin/team?organisation={org_id}"
    )
    assert revoked.status_code == 303
    gone = await browser.get(second + "?lang=en")
    assert gone.status_code == 404 and "not valid" in gone.text
    assert (await browser.get("/invitations/not-a-real-token")).status_code == 404


async def test_an_existing_organiser_accepts_with_their_password(browser) -> None:
    slug, org_id = await make_organisation("team", name="Microkrediet")
    other_slug, other_id = await make_organisation("elders", name="Elders")
    existing = await make_organiser(other_slug, role="editor")
    await sign_in(browser, await make_organiser(slug, role="owner"))
    await _invite(browser, org_id, existing, role="viewer")
    link = await _invitation_link(existing)

    page = await browser.get(link + "?lang=en")
    assert page.status_code == 200 and "You already have an account" in page.text
    assert 'name="name"' not in page.text and 'autocomplete="current-password"' in page.text
    wrong = await _accept(browser, link, password="not my password")
    assert wrong.status_code == 422 and "not correct" in wrong.text
    assert await _role(existing, org_id) is None
    right = await _accept(browser, link, password=PASSWORD)
    assert right.status_code == 303 and right.headers["location"] == "/admin"
    assert await _role(existing, org_id) == "viewer" and await _role(existing, other_id) == "editor"
    # Signed in as the invitee now: they have two organisations, so the team page offers a picker.
    team_page = (await browser.get("/admin/team?lang=en")).text
    assert 'id="t-organisation"' in team_page and "Microkrediet" in team_page and "Elders" in team_page


async def test_only_owners_change_the_team_and_outsiders_learn_nothing(browser) -> None:
    slug, org_id = await make_organisation("team")
    owner = await make_organiser(slug, role="owner")
    editor = await make_organiser(slug, role="editor")
    for role in ("editor", "viewer"):
        await sign_in(browser, editor if role == "editor" else await make_organiser(slug, role="viewer"))
        page = await browser.get(f"/admin/team?organisation={org_id}&lang=en")
        assert page.status_code == 200 and owner in page.text, f"{role} reads the team"
        assert "/admin/team/invitations?" not in page.text and "/remove?" not in page.text, f"{role}: no controls"
        assert (await _invite(browser, org_id, "x@example.org")).status_code == 403
        editor_id = await _organiser_id(editor)
        changed = await post_form(
            browser,
            f"/admin/team/members/{editor_id}/role?organisation={org_id}",
            f"/admin/team?organisation={org_id}",
            role="owner",
        )
        assert changed.status_code == 403
    assert await _role(editor, org_id) == "editor"
    assert await Invitation.count().where(Invitation.organisation == org_id) == 0

    await sign_in(browser, owner)
    member = await _invite(browser, org_id, editor.upper())
    assert member.status_code == 409 and "already on the team" in member.text
    assert 'aria-invalid="true" aria-describedby="invite-error"' in member.text
    assert f'value="{editor.upper()}"' in member.text, "the input is kept"
    bad = await _invite(browser, org_id, "not an address")
    assert bad.status_code == 422 and 'id="invite-error"' in bad.text

    other_slug, other_id = await make_organisation("elders")
    await sign_in(browser, await make_organiser(other_slug, role="owner"))
    assert (await browser.get(f"/admin/team?organisation={org_id}")).status_code == 404
    assert (await browser.get(f"/admin/team/tokens?organisation={org_id}")).status_code == 404
    assert (await browser.get(f"/admin/audit?organisation={org_id}")).status_code == 404
    outsider = await post_form(
        browser,
        f"/admin/team/invitations?organisation={org_id}",
        f"/admin/team?organisation={other_id}",
        email="y@example.org",
        role="owner",
        language="nl",
    )
    assert outsider.status_code == 404
    assert (await browser.get("/admin/team", follow_redirects=False)).status_code == 200, "their own team"

    browser.cookies.clear()
    for url in ("/admin/team", "/admin/team/tokens", "/admin/audit"):
        answer = await browser.get(url, follow_redirects=False)
        assert answer.status_code in (302, 303) and answer.headers["location"].startswith("/login"), url


async def test_the_last_owner_can_be_neither_demoted_nor_removed(browser) -> None:
    slug, org_id = await make_organisation("team")
    owner = await make_organiser(slug, role="owner")
    owner_id = await _organiser_id(owner)
    await sign_in(browser, owner)
    team_url = f"/admin/team?organisation={org_id}"

    demote = await post_form(
        browser, f"/admin/team/members/{owner_id}/role?organisation={org_id}&lang=en", team_url, role="editor"
    )
    assert demote.status_code == 409 and "at least one owner" in demote.text
    remove = await post_form(browser, f"/admin/team/members/{owner_id}/remove?organisation={org_id}", team_url)
    assert remove.status_code == 409
    assert await _role(owner, org_id) == "owner"

    second = await make_organiser(slug, role="editor")
    second_id = await _organiser_id(second)
    promoted = await post_form(
        browser, f"/admin/team/members/{second_id}/role?organisation={org_id}", team_url, role="owner"
    )
    assert promoted.status_code == 303 and await _role(second, org_id) == "owner"
    demoted = await post_form(
        browser, f"/admin/team/members/{owner_id}/role?organisation={org_id}", team_url, role="viewer"
    )
    assert demoted.status_code == 303 and await _role(owner, org_id) == "viewer"
    # Now a viewer themselves, they can no longer change anything.
    assert (
        await post_form(browser, f"/admin/team/members/{second_id}/remove?organisation={org_id}", team_url)
    ).status_code == 403

    await sign_in(browser, second)
    last = await post_form(browser, f"/admin/team/members/{second_id}/remove?organisation={org_id}", team_url)
    assert last.status_code == 409 and await _role(second, org_id) == "owner"


async def test_a_removed_member_loses_access_at_their_next_request(browser, app) -> None:
    from litestar.testing import AsyncTestClient

    from tests.integration.helpers import from_address, unique_address

    slug, org_id = await make_organisation("team")
    event_id = await make_event(org_id)
    editor = await make_organiser(slug, role="editor")
    async with AsyncTestClient(app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}") as them:
        await sign_in(them, editor)
        assert (await them.get(f"/admin/events/{event_id}")).status_code == 200

        await sign_in(browser, await make_organiser(slug, role="owner"))
        removed = await post_form(
            browser,
            f"/admin/team/members/{await _organiser_id(editor)}/remove?organisation={org_id}",
            f"/admin/team?organisation={org_id}",
        )
        assert removed.status_code == 303
        assert await _role(editor, org_id) is None

        assert (await them.get(f"/admin/events/{event_id}")).status_code == 404
        assert (await them.get(f"/admin/team?organisation={org_id}")).status_code == 404
    page = (await browser.get(removed.headers["location"] + "&lang=en")).text
    assert editor not in page and "The member is removed from the team." in page


async def test_an_api_token_is_shown_once_works_records_its_use_and_stops_after_revoke(browser) -> None:
    slug, org_id = await make_organisation("team")
    event_id = await make_event(org_id)
    await sign_in(browser, await make_organiser(slug, role="editor"))
    tokens_url = f"/admin/team/tokens?organisation={org_id}"
    assert (await browser.get(tokens_url)).status_code == 200, "editors read the list"
    assert (await post_form(browser, tokens_url, tokens_url, name="Sneaky", role="editor")).status_code == 403

    await sign_in(browser, await make_organiser(slug, role="owner"))
    nameless = await post_form(browser, tokens_url + "&lang=en", tokens_url, name="  ", role="editor")
    assert nameless.status_code == 422 and "Give the token a name" in nameless.text
    created = await post_form(browser, tokens_url + "&lang=en", tokens_url, name="Website", role="viewer")
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    assert "only time it is shown" in created.text
    token = re.search(r'id="new-token-value"[^>]*value="(tp_[A-Za-z0-9_-]+)"', created.text).group(1)
    row = await ApiToken.select().where(ApiToken.organisation == org_id).first()
    assert row["name"] == "Website" and row["role"] == "viewer" and row["last_used_at"] is None
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()

    listing = (await browser.get(tokens_url + "&lang=en")).text
    assert token not in listing, "shown once"
    assert row["prefix"] in listing and "Website" in listing and "Never" in listing

    registrations = f"/api/v1/events/{event_id}/registrations"
    assert (await browser.get(registrations, headers=bearer(token))).status_code == 200
    used = await ApiToken.select().where(ApiToken.id == row["id"]).first()
    assert used["last_used_at"] is not None
    listing = (await browser.get(tokens_url + "&lang=en")).text
    token_row = next(part for part in listing.split("<tr") if "Website" in part)
    assert "Never" not in token_row and "Active" in token_row

    revoked = await post_form(browser, f"/admin/team/tokens/{row['id']}/revoke", tokens_url)
    assert revoked.status_code == 303
    assert (await browser.get(registrations, headers=bearer(token))).status_code == 401
    listing = (await browser.get(tokens_url + "&lang=en")).text
    token_row = next(part for part in listing.split("<tr") if "Website" in part)
    assert "Revoked" in token_row and f"/admin/team/tokens/{row['id']}/revoke" not in token_row


async def test_the_audit_log_lists_team_actions_filters_narrow_it_and_other_organisations_never_show(
    browser,
) -> None:
    slug, org_id = await make_organisation("audit")
    other_slug, other_id = await make_organisation("elders")
    owner = await make_organiser(slug, role="owner")
    owner_row = await Organiser.select().where(Organiser.email == owner).first()
    await Organiser.update({Organiser.name: "Olga Owner"}).where(Organiser.id == owner_row["id"])
    await sign_in(browser, owner)
    await _invite(browser, org_id, "audited@example.org", role="viewer")
    tokens_url = f"/admin/team/tokens?organisation={org_id}"
    await post_form(browser, tokens_url, tokens_url, name="CRM koppeling", role="editor")
    token_id = (await ApiToken.select(ApiToken.id).where(ApiToken.organisation == org_id).first())["id"]
    await post_form(browser, f"/admin/team/tokens/{token_id}/revoke", tokens_url)
    # The other organisation's own history, with a recognisable detail.
    await AuditLog.insert(
        AuditLog(
            organisation=other_id,
            actor="cli",
            action="invitation.created",
            target="x",
            detail='{"email": "secret@elders.example"}',
        )
    )

    audit = f"/admin/audit?organisation={org_id}&lang=en"
    page = (await browser.get(audit)).text
    order = [page.index(f"<code>{action}</code>") for action in ("api_token.revoked", "api_token.created")]
    assert order == sorted(order) and order[-1] < page.index("<code>invitation.created</code>"), "newest first"
    assert "Olga Owner" in page and "audited@example.org" in page
    assert "API token “CRM koppeling”" in page, "token:<id> targets show the token's name"
    assert "secret@elders.example" not in page and other_slug not in page

    narrowed = (await browser.get(audit + "&action=api_token.")).text
    assert "api_token.created" in narrowed and "api_token.revoked" in narrowed
    assert "<code>invitation.created</code>" not in narrowed
    by_actor = (await browser.get(audit + "&actor=olga")).text
    assert "<code>invitation.created</code>" in by_actor
    assert "<code>organisation.created</code>" not in by_actor, "the command line made the organisation"
    nobody = (await browser.get(audit + "&actor=nobody-at-all")).text
    assert "No entries match." in nobody
    today = datetime.now(UTC).date()
    future = (await browser.get(audit + f"&from={today + timedelta(days=2)}")).text
    assert "No entries match." in future
    window = (await browser.get(audit + f"&from={today - timedelta(days=1)}&to={today + timedelta(days=1)}")).text
    assert "<code>invitation.created</code>" in window
    bad_date = await browser.get(audit + "&from=31-12-2026")
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.text

    # Fifty a page, newest first, with a way to the older ones.
    await AuditLog.insert(
        *(
            AuditLog(organisation=org_id, actor="cli", action="bulk.entry", target=f"item:{n}", detail="{}")
            for n in range(55)
        )
    )
    first = (await browser.get(audit)).text
    assert first.count("<code>") == 50 and 'rel="next"' in first
    total = await AuditLog.count().where(AuditLog.organisation == org_id)
    second = (await browser.get(audit + "&page=2")).text
    assert 'rel="prev"' in second and second.count("<code>") == total - 50

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    assert (await browser.get(audit)).status_code == 403, "viewers may not read personal data in the log"
    assert "/admin/audit?" not in (await browser.get(f"/admin/team?organisation={org_id}")).text


async def test_two_clicks_at_once_on_one_link_make_exactly_one_membership(browser) -> None:
    import asyncio

    from events.services import team
    from events.services.team import InvitationGone

    slug, org_id = await make_organisation("team")
    other_slug, _ = await make_organisation("elders")
    existing = await make_organiser(other_slug, role="viewer")
    await sign_in(browser, await make_organiser(slug, role="owner"))
    await _invite(browser, org_id, existing, role="editor")
    token = (await _invitation_link(existing)).rsplit("/", 1)[1]

    results = await asyncio.gather(
        *(team.accept_invitation(token, password=PASSWORD) for _ in range(2)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 1, results
    assert sum(isinstance(r, InvitationGone) for r in results) == 1, results
    memberships = await Membership.count().where(
        (Membership.organisation == org_id) & (Membership.organiser.email == existing)
    )
    assert memberships == 1
