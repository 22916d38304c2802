"""Check-in at the door: search by name, one tap to check in, undo; viewers only look."""

from __future__ import annotations

from events.tables import Registration
from tests.backoffice.test_attendees_and_exports import _event_with_people
from tests.integration.helpers import make_organisation, make_organiser, post_form, sign_in


async def test_search_check_in_and_undo(browser) -> None:
    slug, _ = await make_organisation("deur")
    event_id, _ = await _event_with_people(browser, slug)  # one confirmed, one waiting
    await sign_in(browser, await make_organiser(slug, role="editor"))
    page = await browser.get(f"/admin/events/{event_id}/check-in")
    assert page.status_code == 200 and 'id="checked-count">0<' in page.text
    assert "'=SUM" not in page.text and "=SUM(1+1)" in page.text  # HTML-escaped, never evaluated

    found = await browser.get(f"/admin/events/{event_id}/check-in", params={"q": "sum"})
    assert "=SUM(1+1)" in found.text and "Sofie" not in found.text, "only confirmed people, matched by name"
    person = (
        await Registration.select()
        .where((Registration.event == event_id) & (Registration.status == "confirmed"))
        .first()
    )
    url = f"/admin/registrations/{person['id']}/attendance"
    back = f"/admin/events/{event_id}/check-in"
    tapped = await post_form(browser, url, back, attendance="attended", back=back)
    assert tapped.status_code == 303 and tapped.headers["location"] == back
    after = await browser.get(back)
    assert 'id="checked-count">1<' in after.text
    assert 'name="attendance" value="" class="secondary"' in after.text, "an undo button instead of check in"
    assert (await Registration.select().where(Registration.id == person["id"]).first())["attendance"] == "attended"

    undone = await post_form(browser, url, back, attendance="", back=back)
    assert undone.status_code == 303
    assert (await Registration.select().where(Registration.id == person["id"]).first())["attendance"] == ""


async def test_viewers_see_the_list_without_buttons_and_others_get_404(browser) -> None:
    slug, _ = await make_organisation("deur")
    event_id, _ = await _event_with_people(browser, slug)
    await sign_in(browser, await make_organiser(slug, role="viewer"))
    page = await browser.get(f"/admin/events/{event_id}/check-in")
    assert page.status_code == 200 and 'class="tap"' not in page.text
    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    assert (await browser.get(f"/admin/events/{event_id}/check-in")).status_code == 404


async def test_a_co_hosts_editor_works_the_door_but_its_viewer_does_not(browser) -> None:
    from events.services import registrations
    from events.services.registrations import RegistrationInput
    from tests.integration.helpers import make_event

    _, owner_id = await make_organisation("eigenaar")
    partner, _ = await make_organisation("partner")
    event_id = await make_event(owner_id, hosts=[partner])
    await registrations.register(event_id, RegistrationInput(name="Lotte", email="lotte@deur.example", language="nl"))
    person = await Registration.select().where(Registration.event == event_id).first()
    url = f"/admin/registrations/{person['id']}/attendance"
    back = f"/admin/events/{event_id}/check-in"

    await sign_in(browser, await make_organiser(partner, role="editor"))
    page = await browser.get(back)
    assert page.status_code == 200 and 'class="tap"' in page.text, "the co-host's editor gets the buttons"
    tapped = await post_form(browser, url, back, attendance="attended", back=back)
    assert tapped.status_code == 303
    assert (await Registration.select().where(Registration.id == person["id"]).first())["attendance"] == "attended"

    await sign_in(browser, await make_organiser(partner, role="viewer"))
    assert 'class="tap"' not in (await browser.get(back)).text
    refused = await post_form(browser, url, back, attendance="", back=back)
    assert refused.status_code == 403
    assert (await Registration.select().where(Registration.id == person["id"]).first())["attendance"] == "attended"
