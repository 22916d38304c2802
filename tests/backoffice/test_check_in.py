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
