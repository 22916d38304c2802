"""What an organisation may see of a participant (events/services/visibility.py)."""

from __future__ import annotations

from events.services.visibility import seen_by

ROW = {
    "id": 7,
    "name": "Sofie Claeys",
    "email": "sofie@example.org",
    "phone": "+32 470 00 00 00",
    "company": "Bakkerij Claeys",
    "language": "nl",
    "status": "confirmed",
    "answers": '{"3": "idea"}',
}
OWNER, COHOST, OTHER = 1, 2, 3


def test_the_owner_sees_everything_the_person_entered() -> None:
    shown = seen_by(ROW, {OWNER}, OWNER, set())
    assert {k: shown[k] for k in ROW} == ROW and shown["redacted"] is False


def test_a_co_host_without_consent_sees_a_pseudonym_and_the_status_only() -> None:
    shown = seen_by(ROW, {COHOST}, OWNER, {OTHER})
    assert shown["name"] == "#7" and shown["redacted"] is True
    assert shown["email"] == shown["phone"] == shown["company"] == ""
    assert shown["answers"] == "{}"
    assert (shown["status"], shown["language"]) == ("confirmed", "nl")
    assert ROW["email"] == "sofie@example.org", "the row itself is left alone"


def test_a_co_host_with_consent_sees_contact_details_but_not_the_answers() -> None:
    shown = seen_by(ROW, {COHOST}, OWNER, {COHOST})
    assert (shown["name"], shown["email"], shown["company"]) == ("Sofie Claeys", "sofie@example.org", "Bakkerij Claeys")
    assert shown["answers"] == "{}"


def test_someone_in_both_organisations_sees_what_the_owner_sees() -> None:
    assert seen_by(ROW, {OWNER, COHOST}, OWNER, set())["answers"] == ROW["answers"]
