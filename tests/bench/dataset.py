"""The benchmark data set, written straight into a freshly migrated database with bulk inserts.

    DATABASE_URL=… SECRET_KEY=… python -m tests.bench.dataset --events 10000 --registrations 200000 \
        --in-window 1000 --manifest var/bench/manifest.json

Run `trefpunt migrate` first: the schema is the real one. SQLite gets `executemany` in one
transaction, PostgreSQL gets `COPY` (asyncpg `copy_records_to_table`). Private-link tokens are
made with the app's own `events.services.tokens`, so the SECRET_KEY of the environment must be
the one the server runs with. The manifest names what the scenarios need (ids, slugs, tokens).

Shape: three organisations; events over three years, of which `in_window` fall in the feed
window (−30 days … +18 months), most of those owned — or co-hosted — by the first organisation,
so its feed holds about as many as the all-events feed; the rest lie in the past. Registrations
spread over the events (distinct people per event) with `confirmed_count` equal to the confirmed
rows and capacity never exceeded; 20 open events with a small capacity and a waitlist for the
POST storm; a consultation day with 200 free slots for the booking storm; one participant with
confirmed registrations in many events for the personal feed; an organiser API token.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

OPEN_EVENTS = 20
OPEN_CAPACITY = 5
ADVISORS = 4
SLOTS_PER_ADVISOR = 50
EVENT_PAGE_REGISTRATIONS = 40
PERSONAL_FEED_EVENTS = 15

ORGANISATIONS = [
    # slug, nl, fr, en, email, colour
    (
        "depunt",
        "Ondernemerscentrum De Punt",
        "Centre d'entreprises De Punt",
        "De Punt business centre",
        "info@depunt.example",
        "#1d5c7a",
    ),
    (
        "microkrediet",
        "Microkrediet Vlaanderen",
        "Microcrédit Flandre",
        "Microcredit Flanders",
        "hallo@microkrediet.example",
        "#7a3b1d",
    ),
    (
        "starterslab",
        "Starterslab Brussel",
        "Starterslab Bruxelles",
        "Starterslab Brussels",
        "team@starterslab.example",
        "#2f7a1d",
    ),
]

TITLES = [
    ("Infosessie: financiering voor starters", "Séance d'info : financement pour starters", "Funding for starters"),
    ("Microkrediet: hoe werkt het?", "Le microcrédit : comment ça marche ?", "Microcredit explained"),
    ("Workshop ondernemingsplan", "Atelier plan d'affaires", "Business plan workshop"),
    ("Btw en boekhouding voor zelfstandigen", "TVA et comptabilité pour indépendants", ""),
    ("Netwerkavond horeca", "Soirée réseau horeca", "Hospitality networking evening"),
    ("Digitaal verkopen: webshop op een avond", "Vendre en ligne : une boutique en une soirée", ""),
    ("Subsidies en waarborgen", "Subsides et garanties", "Grants and guarantees"),
    ("Van idee tot eerste klant", "De l'idée au premier client", "From idea to first customer"),
]
DESCRIPTION = (
    "Je wil een zaak starten of je onderneming laten groeien, maar hoe financier je dat? In deze sessie "
    "overlopen we de mogelijkheden: eigen middelen, familie en vrienden, een bankkrediet, een microkrediet "
    "en de waarborgregeling. Een adviseur vertelt uit de praktijk welke dossiers slagen en waarom, en je "
    "krijgt een checklist mee voor je eerste gesprek met een kredietverstrekker.\n\n"
    "Na afloop is er tijd voor vragen en kan je een persoonlijk gesprek inplannen op de volgende zitdag."
)
DESCRIPTION_FR = (
    "Vous voulez lancer ou développer votre activité, mais comment la financer ? Nous passons en revue les "
    "possibilités : fonds propres, proches, crédit bancaire, microcrédit et garanties. Un conseiller partage "
    "son expérience des dossiers qui aboutissent, et vous repartez avec une liste de contrôle."
)
VENUES = [
    ("Ondernemerscentrum De Punt", "Stationsstraat 12", "Aalst"),
    ("Zaal De Markt", "Grote Markt 3", "Gent"),
    ("Huis van de Ondernemer", "Kerkstraat 40", "Mechelen"),
    ("Hub Brussel", "Rue Royale 100", "Brussel"),
    ("Bibliotheek Centrum", "Vrijdagmarkt 1", "Antwerpen"),
    ("Starterslab", "Boulevard Anspach 50", "Brussel"),
]


@dataclass
class Rows:
    """Rows for one table, in insertion order (parents before children)."""

    table: str
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class Spec:
    events: int = 10_000
    registrations: int = 200_000
    in_window: int = 1_000
    seed: int = 9


def _nonce(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _token_hasher() -> Callable[[str, str], str]:
    """`token_hash(derive(purpose, nonce))` of events.services.tokens, with the one-shot HMAC
    (4× faster for 400,000 tokens); checked against the app's own functions first."""
    from events.services.tokens import derive, token_hash
    from events.settings import get_settings

    key = get_settings().secret_key.encode()

    def hashed(purpose: str, nonce: str) -> str:
        digest = hmac.digest(key, f"{purpose}:{nonce}".encode(), "sha256")
        token = base64.urlsafe_b64encode(digest).rstrip(b"=")
        return hashlib.sha256(token).hexdigest()

    assert hashed("manage", "0" * 32) == token_hash(derive("manage", "0" * 32)), "tokens.py changed: update this"
    return hashed


def generate(spec: Spec, now: datetime) -> tuple[list[Rows], dict[str, Any]]:
    """All rows and the manifest; deterministic for a seed and a day."""
    from events.services.tokens import derive

    hashed = _token_hasher()
    rng = random.Random(spec.seed)
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    # The feed window is −30 days … +548 days around today's UTC midnight; stay inside it.
    window = (midnight - timedelta(days=29), midnight + timedelta(days=540))
    past = (midnight - timedelta(days=548), midnight - timedelta(days=32))

    organisations = Rows(
        "organisation",
        ["id", "slug", "name_nl", "name_fr", "name_en", "email", "timezone", "colour", "address", "created_at"],
    )
    for number, (slug, nl, fr, en, email, colour) in enumerate(ORGANISATIONS, 1):
        organisations.rows.append((number, slug, nl, fr, en, email, "Europe/Brussels", colour, "Brussel", past[0]))
    org_ids = [1, 2, 3]

    venues = Rows("venue", ["id", "organisation", "name", "address", "city", "created_at"])
    rooms = Rows("room", ["id", "venue", "name", "capacity"])
    for number, (name, address, city) in enumerate(VENUES, 1):
        venues.rows.append((number, org_ids[(number - 1) % 3], name, address, city, past[0]))
        for index in (1, 2):
            rooms.rows.append((len(rooms.rows) + 1, number, f"Zaal {index}", 40 * index))

    purposes = Rows("consent_purpose", ["id", "organisation", "key", "text_nl", "text_fr", "text_en", "version"])
    for org in org_ids:
        purposes.rows.append(
            (
                org,
                org,
                "newsletter",
                "Hou me op de hoogte van nieuwe sessies.",
                "Tenez-moi au courant des nouvelles séances.",
                "Keep me posted about new sessions.",
                1,
            )
        )

    event_columns = [
        "id",
        "kind",
        "organisation",
        "title_nl",
        "title_fr",
        "title_en",
        "description_nl",
        "description_fr",
        "description_en",
        "starts_at",
        "ends_at",
        "timezone",
        "venue",
        "room",
        "online_url",
        "capacity",
        "confirmed_count",
        "waitlist",
        "requires_approval",
        "double_opt_in",
        "reminder_hours",
        "status",
        "uid",
        "sequence",
        "created_at",
        "updated_at",
        "published_at",
        "cancelled_at",
    ]
    events: list[dict[str, Any]] = []
    hosts = Rows("event_host", ["id", "event", "organisation"])

    def add_event(
        starts: datetime,
        owner: int,
        *,
        kind: str = "info_session",
        status: str = "published",
        capacity: int | None = None,
        hours: float = 2.0,
    ) -> dict[str, Any]:
        number = len(events) + 1
        nl, fr, en = TITLES[number % len(TITLES)]
        created = starts - timedelta(days=rng.randint(20, 90))
        venue = rng.randint(1, len(VENUES)) if rng.random() < 0.8 else None
        event = {
            "id": number,
            "kind": kind,
            "organisation": owner,
            "title_nl": f"{nl} ({number})",
            "title_fr": f"{fr} ({number})" if rng.random() < 0.7 else "",
            "title_en": f"{en} ({number})" if en and rng.random() < 0.3 else "",
            "description_nl": DESCRIPTION,
            "description_fr": DESCRIPTION_FR,
            "description_en": "",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=hours),
            "timezone": "Europe/Brussels",
            "venue": venue,
            "room": (venue - 1) * 2 + 1 if venue and rng.random() < 0.5 else None,
            "online_url": "" if venue else "https://meet.example/trefpunt",
            "capacity": capacity,
            "confirmed_count": 0,
            "waitlist": True,
            "requires_approval": False,
            "double_opt_in": False,
            "reminder_hours": "48,2",
            "status": status,
            "uid": f"bench-event-{number}@trefpunt.bench",
            "sequence": rng.randint(0, 2),
            "created_at": created,
            "updated_at": created + timedelta(days=rng.randint(0, 10)),
            "published_at": created if status != "draft" else None,
            "cancelled_at": (now - timedelta(days=rng.randint(1, 20))) if status == "cancelled" else None,
        }
        events.append(event)
        return event

    def co_host(event: dict[str, Any], organisation: int) -> None:
        hosts.rows.append((len(hosts.rows) + 1, event["id"], organisation))

    def start_in(span: tuple[datetime, datetime]) -> datetime:
        seconds = int((span[1] - span[0]).total_seconds())
        moment = span[0] + timedelta(seconds=rng.randrange(seconds))
        return moment.replace(hour=rng.randint(7, 18), minute=rng.choice((0, 30)), second=0, microsecond=0)

    # The special events first, all inside the feed window.
    open_events = [
        add_event(midnight + timedelta(days=14 + index, hours=17), 1, capacity=OPEN_CAPACITY)
        for index in range(OPEN_EVENTS)
    ]
    page_event = add_event(midnight + timedelta(days=21, hours=17), 1, capacity=60)
    co_host(page_event, 2)
    consultation = add_event(midnight + timedelta(days=10, hours=8), 1, kind="consultation_day", hours=9)
    co_host(consultation, 2)
    specials = {event["id"] for event in [*open_events, page_event, consultation]}

    in_window = max(spec.in_window - len(specials), 0)
    regular: list[dict[str, Any]] = []
    for index in range(max(spec.events - len(specials), 0)):
        current = index < in_window
        owner = rng.choices(org_ids, weights=(85, 10, 5) if current else (50, 30, 20))[0]
        roll = rng.random()
        status = "draft" if roll < 0.01 else "cancelled" if roll < 0.03 else "published"
        kind = rng.choices(["info_session", "workshop"], weights=(7, 3))[0]
        event = add_event(
            start_in(window if current else past), owner, kind=kind, status=status, hours=rng.choice((1.5, 2, 3))
        )
        # Partners co-host: the first organisation's feed holds nearly the whole window.
        if owner != 1 and ((current and rng.random() < 0.5) or (not current and rng.random() < 0.1)):
            co_host(event, 1)
        regular.append(event)

    # Registrations -----------------------------------------------------------------------------
    people = max(2_000, spec.registrations // 4)
    registration_columns = [
        "id",
        "event",
        "name",
        "email",
        "email_key",
        "phone",
        "company",
        "language",
        "answers",
        "status",
        "attendance",
        "manage_token_hash",
        "token_nonce",
        "feed_token_hash",
        "feed_token_nonce",
        "consents",
        "ical_sequence",
        "ical_method",
        "source",
        "waitlisted_at",
        "created_at",
        "updated_at",
        "cancelled_at",
    ]
    registrations = Rows("registration", registration_columns)
    feed_nonce_of_owner = ""

    def register(event: dict[str, Any], person: int, status: str) -> str:
        number = len(registrations.rows) + 1
        nonce, feed_nonce = _nonce(rng), _nonce(rng)
        created = event["created_at"] + timedelta(minutes=rng.randint(10, 20_000))
        email = f"p{person}@bench.example"
        registrations.rows.append(
            (
                number,
                event["id"],
                f"Deelnemer {person}",
                email,
                email,
                "+32 470 12 34 56" if person % 3 else "",
                f"Bedrijf {person % 997}" if person % 2 else "",
                ("nl", "fr", "en")[person % 3],
                "{}",
                status,
                ("attended" if person % 4 else "no_show") if status == "confirmed" and event["starts_at"] < now else "",
                hashed("manage", nonce),
                nonce,
                hashed("feed", feed_nonce),
                feed_nonce,
                "[]",
                event["sequence"] if status == "confirmed" else -1,
                "REQUEST" if status == "confirmed" else "",
                "form" if person % 5 else "api",
                created if status == "waitlisted" else None,
                created,
                created,
                created + timedelta(days=1) if status == "cancelled" else None,
            )
        )
        if status == "confirmed":
            event["confirmed_count"] += 1
        return feed_nonce

    # The personal-feed owner (person 0) holds confirmed seats in many current events.
    current_published = [e for e in regular[:in_window] if e["status"] == "published"]
    for event in rng.sample(current_published, min(PERSONAL_FEED_EVENTS, len(current_published))):
        nonce = register(event, 0, "confirmed")
        feed_nonce_of_owner = feed_nonce_of_owner or nonce
    for person in rng.sample(range(1, people), EVENT_PAGE_REGISTRATIONS):
        register(page_event, person, "confirmed")

    with_people = [e for e in regular if e["status"] != "draft"]
    remaining = max(spec.registrations - len(registrations.rows), 0)
    average = remaining / max(len(with_people), 1)
    counts = [rng.randint(0, int(2 * average)) for _ in with_people]
    ceiling = min(people - 1, int(4 * average) + 1)
    difference = remaining - sum(counts)
    while difference and with_people:  # make the total exact, within per-event bounds
        index = rng.randrange(len(counts))
        step = 1 if difference > 0 else -1
        if 0 <= counts[index] + step <= ceiling:
            counts[index] += step
            difference -= step
    for event, count in zip(with_people, counts, strict=True):
        statuses = []
        for person in rng.sample(range(1, people), count):
            roll = rng.random()
            status = "cancelled" if roll < 0.06 else "waitlisted" if roll < 0.10 else "confirmed"
            statuses.append(status)
            register(event, person, status)
        if "waitlisted" in statuses:
            event["capacity"] = event["confirmed_count"]  # a waitlist exists only when full
        elif rng.random() < 0.8:
            event["capacity"] = event["confirmed_count"] + rng.randint(0, 15)

    # The consultation day: advisors, availability, 200 free slots ------------------------------
    day = consultation["starts_at"]
    consultations = Rows(
        "consultation",
        [
            "id",
            "event",
            "slot_minutes",
            "buffer_minutes",
            "min_notice_hours",
            "booking_opens_days",
            "max_bookings_per_person",
        ],
    )
    consultations.rows.append((1, consultation["id"], 10, 0, 12, 60, 1))
    advisors = Rows(
        "advisor",
        [
            "id",
            "event",
            "organisation",
            "position",
            "name",
            "email",
            "languages",
            "topics",
            "feed_token_nonce",
            "feed_token_hash",
        ],
    )
    windows = Rows("availability_window", ["id", "advisor", "starts_at", "ends_at"])
    slots = Rows("slot", ["id", "event", "advisor", "starts_at", "ends_at", "status"])
    for number in range(1, ADVISORS + 1):
        nonce = _nonce(rng)
        advisors.rows.append(
            (
                number,
                consultation["id"],
                1 + number % 2,
                number,
                f"Adviseur {number}",
                f"adviseur{number}@depunt.example",
                "nl,fr",
                "financing,starting",
                nonce,
                hashed("advisor", nonce),
            )
        )
        windows.rows.append((number, number, day, day + timedelta(minutes=10 * SLOTS_PER_ADVISOR)))
        for index in range(SLOTS_PER_ADVISOR):
            starts = day + timedelta(minutes=10 * index)
            slots.rows.append(
                (len(slots.rows) + 1, consultation["id"], number, starts, starts + timedelta(minutes=10), "free")
            )

    questions = Rows(
        "question", ["id", "event", "position", "kind", "label_nl", "label_fr", "label_en", "options", "required"]
    )
    options = [
        {"key": "horeca", "nl": "Horeca", "fr": "Horeca", "en": "Hospitality"},
        {"key": "retail", "nl": "Handel", "fr": "Commerce", "en": "Retail"},
    ]
    questions.rows.append(
        (
            1,
            page_event["id"],
            0,
            "short_text",
            "Wat wil je leren?",
            "Qu'aimeriez-vous apprendre ?",
            "What would you like to learn?",
            "[]",
            False,
        )
    )
    questions.rows.append((2, page_event["id"], 1, "single", "Sector", "Secteur", "Sector", json.dumps(options), False))

    event_rows = Rows("event", event_columns, [tuple(event[c] for c in event_columns) for event in events])
    tables = [
        organisations,
        venues,
        rooms,
        purposes,
        event_rows,
        hosts,
        questions,
        registrations,
        consultations,
        advisors,
        windows,
        slots,
    ]

    window_events = [e for e in events if window[0] <= e["starts_at"] <= window[1] and e["status"] != "draft"]
    main_feed = {e["id"] for e in window_events if e["organisation"] == 1} | {
        row[1] for row in hosts.rows if row[2] == 1 and events[row[1] - 1] in window_events
    }
    manifest = {
        "organisations": [row[1] for row in organisations.rows],
        "main_organisation": ORGANISATIONS[0][0],
        "event_page": page_event["id"],
        "open_events": [event["id"] for event in open_events],
        "open_capacity": OPEN_CAPACITY,
        "consultation_event": consultation["id"],
        "slots": [row[0] for row in slots.rows],
        "feed_token": derive("feed", feed_nonce_of_owner) if feed_nonce_of_owner else "",
        "filtered_events": "/events?organisation=microkrediet&kind=workshop&language=fr",
        "counts": {
            "events": len(events),
            "registrations": len(registrations.rows),
            "events_in_feed_window": len(window_events),
            "events_in_main_organisation_feed": len(main_feed),
            "slots": len(slots.rows),
        },
    }
    return tables, manifest


# Writers --------------------------------------------------------------------------------------


def _sqlite_datetime(value: datetime) -> str:
    # Piccolo stores aware datetimes as str() of the UTC value on SQLite; do the same.
    return str(value.astimezone(UTC))


def write_sqlite(path: str, tables: list[Rows]) -> None:
    sqlite3.register_adapter(datetime, _sqlite_datetime)
    conn = sqlite3.connect(path, timeout=30)
    try:
        with conn:
            for rows in tables:
                names = ", ".join(f'"{c}"' for c in rows.columns)
                marks = ", ".join("?" for _ in rows.columns)
                conn.executemany(f'INSERT INTO "{rows.table}" ({names}) VALUES ({marks})', rows.rows)
            conn.execute("UPDATE data_version SET version = version + 1, changed_at = ?", (_now(),))
    finally:
        conn.close()


async def write_postgres(url: str, tables: list[Rows]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for rows in tables:
                if rows.rows:
                    await conn.copy_records_to_table(rows.table, records=rows.rows, columns=rows.columns)
                # Explicit ids were copied in: move each serial past them.
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{rows.table}', 'id'), "
                    f"GREATEST((SELECT max(id) FROM {rows.table}), 1))"
                )
            await conn.execute("UPDATE data_version SET version = version + 1, changed_at = $1", _now())
        # What autovacuum would do within a minute of a real bulk load.
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _now() -> datetime:
    return datetime.now(UTC)


async def _api_token(slug: str) -> str:
    from events.services.organisers import create_api_token

    return await create_api_token(slug, name="benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=Spec.events)
    parser.add_argument("--registrations", type=int, default=Spec.registrations)
    parser.add_argument("--in-window", type=int, default=Spec.in_window)
    parser.add_argument("--seed", type=int, default=Spec.seed)
    parser.add_argument("--manifest", type=Path, required=True)
    args = parser.parse_args()

    from events.settings import get_settings

    settings = get_settings()
    spec = Spec(events=args.events, registrations=args.registrations, in_window=args.in_window, seed=args.seed)
    tables, manifest = generate(spec, _now())
    if settings.is_postgres:
        asyncio.run(write_postgres(settings.database_url, tables))
    else:
        write_sqlite(str(settings.sqlite_path), tables)
    manifest["api_token"] = asyncio.run(_api_token(manifest["main_organisation"]))
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    args.manifest.write_text(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
