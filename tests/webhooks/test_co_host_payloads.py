"""A co-host's webhook gets only what its consent allows (visibility.seen_by), the owner's
webhook what registration needs."""

from __future__ import annotations

from typing import Any

from events.services import consents, registrations
from events.services import questions as question_service
from events.services.access import CLI_ACTOR
from events.services.consents import PurposeInput
from events.services.questions import QuestionInput
from tests.integration.helpers import make_event, unique_slug
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import drain, new_org, person, subscribe


async def test_a_co_host_gets_a_pseudonym_without_consent_and_contact_details_with_it(receiver: Receiver) -> None:
    owner = await new_org("owner")
    partner = await new_org("partner")
    purpose = await consents.define_purpose(
        CLI_ACTOR, partner.id, PurposeInput(key="loan-contact", text={"en": "Call me about a loan"})
    )
    await subscribe(owner, receiver.url, ("registration.created",))
    await subscribe(partner, receiver.url, ("registration.created",))
    event_id = await make_event(owner.id, hosts=[partner.slug])
    [question] = await question_service.replace_questions(
        CLI_ACTOR, event_id, [QuestionInput(kind="short_text", label={"en": "Your plan"})]
    )
    quiet = f"{unique_slug('quiet')}@example.org"
    willing = f"{unique_slug('willing')}@example.org"
    quiet_result = await registrations.register(
        event_id, person(quiet, phone="+32 470 00 00 01", company="Quiet BV", answers={str(question.id): "secret plan"})
    )
    await registrations.register(
        event_id,
        person(
            willing,
            phone="+32 470 00 00 02",
            company="Willing BV",
            consents=[purpose.id],
            answers={str(question.id): "open plan"},
        ),
    )
    await drain()

    def got(slug: str) -> list[dict[str, Any]]:
        """The registrations one organisation's webhook received, each with its raw body."""
        return [
            r.json["data"]["registration"] | {"_raw": r.body}
            for r in receiver.received
            if r.json["organisation"] == slug
        ]

    to_owner = got(owner.slug)
    to_partner = got(partner.slug)
    assert len(to_owner) == len(to_partner) == 2

    # The owner: everything the person entered.
    by_email = {r["email"]: r for r in to_owner}
    assert by_email[quiet]["answers"] == {str(question.id): "secret plan"}
    assert (by_email[quiet]["phone"], by_email[quiet]["company"]) == ("+32 470 00 00 01", "Quiet BV")

    # The co-host without consent: a pseudonym, no contact details, no answers — anywhere in the body.
    [hidden] = [r for r in to_partner if r["id"] == quiet_result.id]
    assert hidden["name"] == f"#{quiet_result.id}" and hidden["redacted"] is True
    assert (hidden["email"], hidden["phone"], hidden["company"], hidden["answers"]) == ("", "", "", {})
    assert hidden["status"] == "confirmed" and hidden["language"] == "nl"
    for secret in (quiet.encode(), b"Quiet BV", b"+32 470 00 00 01", b"secret plan", quiet.split("@")[0].encode()):
        assert secret not in hidden["_raw"]

    # The co-host with consent: contact details, still no answers.
    [shown] = [r for r in to_partner if r["id"] != quiet_result.id]
    assert (shown["email"], shown["company"], shown["phone"]) == (willing, "Willing BV", "+32 470 00 00 02")
    assert shown["answers"] == {} and shown["redacted"] is False
    assert b"open plan" not in shown["_raw"]
