"""What an organisation may see of a participant. Rules only; the consent ledger decides.

- The organisation that owns the event sees what registration needs: everything the person
  entered (name, email, phone, company, language, answers) and their status.
- A co-host organisation sees a person's contact details (name, email, phone, company) only
  while that person's latest word in the consent ledger, for at least one purpose of that
  co-host, is "given". Answers to the registration questions stay with the owner.
- Without that consent a co-host sees that someone registered (status, language, when,
  attendance) under a pseudonym, so its counts and check-in still work.

Everyone that shows or sends participants to an organisation (back-office lists, exports,
check-in, the organiser API, webhooks) goes through `seen_by`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from events.tables import Consent

CONTACT_FIELDS = ("name", "email", "phone", "company")
OWNER_ONLY_FIELDS = ("answers",)


async def consented_organisations(registration_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each registration, the organisations it currently consents to (for any purpose):
    one query, whatever the number of registrations."""
    ids = list(dict.fromkeys(registration_ids))
    if not ids:
        return {}
    rows = (
        await Consent.select(Consent.registration, Consent.organisation, Consent.purpose, Consent.action)
        .where(Consent.registration.is_in(ids))
        .order_by(Consent.id)
    )
    latest: dict[tuple[int, int, int], str] = {}
    for row in rows:
        latest[(row["registration"], row["organisation"], row["purpose"])] = row["action"]
    result: dict[int, set[int]] = {registration_id: set() for registration_id in ids}
    for (registration_id, organisation_id, _), action in latest.items():
        if action == "given":
            result[registration_id].add(organisation_id)
    return result


def sees_contact(viewer_organisations: Iterable[int], owner_id: int, consented_to: set[int]) -> bool:
    """Whether someone acting for `viewer_organisations` sees this person's contact details."""
    viewers = set(viewer_organisations)
    return owner_id in viewers or bool(viewers & consented_to)


def sees_answers(viewer_organisations: Iterable[int], owner_id: int) -> bool:
    return owner_id in set(viewer_organisations)


def pseudonym(registration_id: int) -> str:
    """How a person appears to a co-host without their consent."""
    return f"#{registration_id}"


def seen_by(
    row: dict[str, Any], viewer_organisations: Iterable[int], owner_id: int, consented_to: set[int]
) -> dict[str, Any]:
    """A copy of a Registration row with what the viewer may not see blanked out: contact
    fields become a pseudonym and empty strings, answers an empty object."""
    viewers = set(viewer_organisations)
    shown = dict(row)
    if not sees_contact(viewers, owner_id, consented_to):
        shown.update({field: "" for field in CONTACT_FIELDS})
        shown["name"] = pseudonym(row["id"])
        shown["redacted"] = True
    else:
        shown["redacted"] = False
    if not sees_answers(viewers, owner_id) and "answers" in shown:
        shown["answers"] = "{}" if isinstance(row.get("answers"), str) else {}
    return shown


def answers_of(row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("answers") or {}
    return json.loads(value) if isinstance(value, str) else dict(value)
