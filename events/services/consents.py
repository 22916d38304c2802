"""Consent purposes of the hosting organisations and the append-only consent ledger."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec

from events.db import write_transaction
from events.services.access import Actor
from events.services.errors import N_, Forbidden, InvalidInput, NotFound
from events.settings import LANGUAGES
from events.tables import Consent, ConsentPurpose


class PurposeView(msgspec.Struct):
    id: int
    organisation_id: int
    key: str
    text: dict[str, str]
    version: int


class PurposeInput(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")]
    text: dict[Literal["nl", "fr", "en"], Annotated[str, msgspec.Meta(max_length=2000)]]


def _view(row: dict[str, Any]) -> PurposeView:
    return PurposeView(
        id=row["id"],
        organisation_id=row["organisation"],
        key=row["key"],
        version=row["version"],
        text={lang: row[f"text_{lang}"] for lang in LANGUAGES if row[f"text_{lang}"]},
    )


def wording_hash(text: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k}:{text[k]}" for k in sorted(text)).encode()).hexdigest()


async def purposes_for(organisation_ids: list[int]) -> list[PurposeView]:
    rows = (
        await ConsentPurpose.select()
        .where(
            ConsentPurpose.organisation.is_in(organisation_ids or [-1]) & (ConsentPurpose.active == True)  # noqa: E712
        )
        .order_by(ConsentPurpose.id)
    )
    return [_view(row) for row in rows]


async def define_purpose(actor: Actor, organisation_id: int, data: PurposeInput) -> PurposeView:
    """Create a purpose, or a new wording version of it: earlier consents keep their version."""
    if actor.kind != "cli" and not actor.can_edit_for(organisation_id):
        raise Forbidden() if actor.role_in(organisation_id) else NotFound()
    if not any(text.strip() for text in data.text.values()):
        raise InvalidInput(N_("A consent purpose needs a text in at least one language."), field="text")
    texts = {f"text_{lang}": data.text.get(lang, "") for lang in LANGUAGES}  # type: ignore[call-overload]
    async with write_transaction():
        row = (
            await ConsentPurpose.select()
            .where((ConsentPurpose.organisation == organisation_id) & (ConsentPurpose.key == data.key))
            .first()
        )
        if row is None:
            rows = await ConsentPurpose.insert(ConsentPurpose(organisation=organisation_id, key=data.key, **texts))
            purpose_id = rows[0]["id"]
        else:
            purpose_id = row["id"]
            changed = any(row[name] != value for name, value in texts.items())
            await ConsentPurpose.update(
                {**texts, "version": row["version"] + (1 if changed else 0), "active": True}  # type: ignore[dict-item]
            ).where(ConsentPurpose.id == purpose_id)
    result = await ConsentPurpose.select().where(ConsentPurpose.id == purpose_id).first()
    assert result is not None
    return _view(result)


async def record(registration_id: int, email_key: str, purposes: list[PurposeView], action: str, source: str) -> None:
    """Append ledger rows; call inside the use case's transaction."""
    if purposes:
        await Consent.insert(
            *[
                Consent(
                    registration=registration_id,
                    email_key=email_key,
                    organisation=purpose.organisation_id,
                    purpose=purpose.id,
                    wording_version=purpose.version,
                    wording_hash=wording_hash(purpose.text),
                    action=action,
                    source=source,
                )
                for purpose in purposes
            ]
        )


async def current_for_registration(registration_id: int) -> set[int]:
    """Purposes whose latest ledger entry for this registration is "given"."""
    rows = (
        await Consent.select(Consent.purpose, Consent.action)
        .where(Consent.registration == registration_id)
        .order_by(Consent.id)
    )
    state: dict[int, str] = {}
    for row in rows:
        state[row["purpose"]] = row["action"]
    return {purpose for purpose, action in state.items() if action == "given"}
