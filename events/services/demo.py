"""Demo data: three partner organisations, their organisers and a quarter of upcoming events.

Everything goes through the ordinary services (except the Series row, which has no service yet),
so the demo obeys the same rules as real data. Dates are relative to now, at fixed local hours in
Europe/Brussels, so the demo always shows the next three months. All names, addresses and mail
domains are fictional (`*.example`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from events.services.access import CLI_ACTOR
from events.services.events import (
    DescriptionTexts,
    EventInput,
    EventPatch,
    TitleTexts,
    VenueInput,
    create_event,
    publish_event,
    update_event,
)
from events.services.organisers import create_organisation, create_organiser
from events.services.registrations import RegistrationInput, register
from events.tables import Event, Organisation, Series

__all__ = ["load_demo"]

TIMEZONE = "Europe/Brussels"
DEMO_PASSWORD = "trefpunt-demo"  # noqa: S105 - the documented demo login  # nosec B105
TUESDAY = 1

_DE_PUNT = {"name": "Bedrijvencentrum De Punt", "address": "Puntstraat 10", "city": "9000 Gent"}
_BRUSOC = {"name": "Espace BRUSOC", "address": "Quai des Starters 24", "city": "1000 Bruxelles"}


def _de_punt(room: str) -> VenueInput:
    return VenueInput(**_DE_PUNT, room=room)


def _on(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """An aware start and end on a local day in Europe/Brussels."""
    tz = ZoneInfo(TIMEZONE)
    return datetime.combine(day, start, tzinfo=tz), datetime.combine(day, end, tzinfo=tz)


def _day(today: date, weeks: int, weekday: int) -> date:
    """The first `weekday` (0 = Monday) on or after `weeks` weeks from today."""
    base = today + timedelta(weeks=weeks)
    return base + timedelta(days=(weekday - base.weekday()) % 7)


def _first_tuesdays(today: date, count: int, *, min_days: int = 5) -> list[date]:
    """The next `count` first Tuesdays of a month, at least `min_days` from today."""
    days: list[date] = []
    year, month = today.year, today.month
    while len(days) < count:
        first = date(year, month, 1)
        tuesday = first + timedelta(days=(TUESDAY - first.weekday()) % 7)
        if tuesday >= today + timedelta(days=min_days):
            days.append(tuesday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


async def _organisations() -> dict[str, int]:
    return {
        "de-punt": await create_organisation(
            "de-punt",
            "Bedrijvencentrum De Punt",
            "info@depunt.example",
            names={
                "nl": "Bedrijvencentrum De Punt",
                "fr": "Centre d'entreprises De Punt",
                "en": "De Punt Business Centre",
            },
            colour="#1d5c7a",
            website="https://depunt.example",
            address="Puntstraat 10, 9000 Gent",
        ),
        "hefboom": await create_organisation(
            "hefboom",
            "Hefboom",
            "krediet@hefboom.example",
            names={
                "nl": "Hefboom – financier van sociale en duurzame projecten",
                "fr": "Hefboom – financeur de projets sociaux et durables",
                "en": "Hefboom – lender to social and sustainable enterprises",
            },
            colour="#c2570c",
            website="https://hefboom.example",
            address="Krediethof 3, 1000 Brussel",
        ),
        "brusoc": await create_organisation(
            "brusoc",
            "BRUSOC",
            "contact@brusoc.example",
            names={
                "nl": "BRUSOC – investeringen voor Brusselse starters",
                "fr": "BRUSOC – investissements pour petits starters bruxellois",
                "en": "BRUSOC – investment for small Brussels start-ups",
            },
            colour="#2f7d32",
            website="https://brusoc.example",
            address="Quai des Starters 24, 1000 Bruxelles",
        ),
    }


async def _organisers() -> None:
    await create_organiser(
        "demo@depunt.example", "de-punt", role="owner", password=DEMO_PASSWORD, name="Pieter Demo", language="nl"
    )
    await create_organiser(
        "demo@depunt.example", "hefboom", role="editor", password=DEMO_PASSWORD, name="Pieter Demo", language="nl"
    )
    await create_organiser(
        "viewer@depunt.example", "de-punt", role="viewer", password=DEMO_PASSWORD, name="Vera Kijker", language="nl"
    )
    await create_organiser(
        "advisor@hefboom.example", "hefboom", role="owner", password=DEMO_PASSWORD, name="Anke Advies", language="nl"
    )
    await create_organiser(
        "equipe@brusoc.example", "brusoc", role="owner", password=DEMO_PASSWORD, name="Équipe BRUSOC", language="fr"
    )


async def _event(organisation_id: int, data: EventInput, *, publish: bool = True) -> int:
    event_id = await create_event(CLI_ACTOR, organisation_id, data)
    if publish:
        await publish_event(CLI_ACTOR, event_id)
    return event_id


IMPULS_NL = """\
Droom je van een eigen zaak, maar krijg je geen lening bij de bank? Met het **Impulskrediet**, \
het microkrediet van Hefboom, kan je toch starten of uitbreiden. In deze infosessie leggen \
De Punt en Hefboom samen uit hoe het werkt.

- voor wie het Impulskrediet bedoeld is en hoeveel je kan lenen
- welke documenten je nodig hebt voor je aanvraag
- hoe de begeleiding door De Punt je dossier sterker maakt

Na de sessie kan je een persoonlijk gesprek boeken op een [zitdag](https://depunt.example/zitdagen).
"""

IMPULS_FR = """\
Vous rêvez de lancer votre activité mais la banque ne vous suit pas ? L'**Impulskrediet**, \
le microcrédit de Hefboom, peut vous aider à démarrer ou à développer votre entreprise. \
De Punt et Hefboom vous expliquent comment.

- à qui s'adresse l'Impulskrediet et quel montant emprunter
- les documents nécessaires pour votre demande
- l'accompagnement de De Punt pour renforcer votre dossier
"""

IMPULS_EN = """\
Want to start your own business but the bank says no? **Impulskrediet**, Hefboom's microcredit, \
helps you start or grow anyway. De Punt and Hefboom explain how it works.

- who Impulskrediet is for and how much you can borrow
- what you need for your application
- how coaching at De Punt strengthens your file
"""

IMPULS_MORNING_NL = """\
Een ochtendeditie van onze infosessie over het **Impulskrediet**, voor wie 's avonds niet kan.

- microkrediet voor starters en kleine ondernemers zonder toegang tot bankkrediet
- voorbeelden van ondernemers die met een microkrediet startten
- ruimte voor al je vragen, met koffie

Liever eerst lezen? Kijk op [hefboom.example](https://hefboom.example/impulskrediet).
"""

CULTUUR_NL = """\
Sinds kort kan ook de **cultuursector** bij Hefboom terecht voor een krediet. Het \
**Cultuurkrediet** helpt kunstenaars, collectieven en culturele organisaties die een project \
willen voorfinancieren of een investering willen doen.

- wie in aanmerking komt: van individuele kunstenaar tot vzw
- voorfinanciering van subsidies en projecten
- hoe je aanvraag verloopt en hoe lang het duurt

Plaatsen zijn beperkt; we bevestigen je inschrijving na een korte check.
"""

CULTUUR_FR = """\
Le secteur **culturel** peut désormais s'adresser à Hefboom. Le **Cultuurkrediet** aide les \
artistes, collectifs et organisations culturelles à préfinancer un projet ou à investir.

- qui peut en bénéficier : de l'artiste individuel à l'ASBL
- préfinancement de subsides et de projets
- déroulement et durée de la demande

Places limitées ; nous confirmons votre inscription après une courte vérification.
"""

ZITDAG_NL = """\
Op deze **zitdag** ontvangt een adviseur van Hefboom micro-ondernemers één voor één in \
bedrijvencentrum De Punt. Je bespreekt je plannen en je financieringsvraag in een gesprek van \
een half uur.

- breng je ondernemingsplan of een korte beschrijving van je project mee
- gesprekken in het Nederlands of het Frans
- gratis en vertrouwelijk
"""

ZITDAG_FR = """\
Lors de cette **journée de consultation**, un conseiller de Hefboom reçoit les \
micro-entrepreneurs un par un au centre d'entreprises De Punt. Un entretien d'une demi-heure \
pour parler de votre projet et de son financement.

- apportez votre plan d'affaires ou une courte description de votre projet
- entretiens en néerlandais ou en français
- gratuit et confidentiel
"""

NETWORK_NL = """\
De Punt, Hefboom en BRUSOC brengen hun netwerken samen: sociale ondernemers, starters, \
adviseurs en financiers uit Gent en Brussel. Een avond om elkaar te leren kennen.

- korte pitches van drie ondernemers die met een microkrediet startten
- vooraf 1-op-1 afspraken aanvragen via de deelnemerslijst
- drankje en hapje in Zaal Schelde
"""

NETWORK_FR = """\
De Punt, Hefboom et BRUSOC réunissent leurs réseaux : entrepreneurs sociaux, starters, \
conseillers et financeurs de Gand et de Bruxelles. Une soirée pour faire connaissance.

- courts pitchs de trois entrepreneurs lancés grâce à un microcrédit
- demandez des rendez-vous 1:1 via la liste des participants
- verre et bouchées dans la Zaal Schelde
"""

NETWORK_EN = """\
De Punt, Hefboom and BRUSOC bring their networks together: social entrepreneurs, starters, \
advisors and lenders from Ghent and Brussels. An evening to get to know each other.

- short pitches by three entrepreneurs who started with a microcredit
- request 1:1 meetings through the attendee directory
- drinks and bites in Zaal Schelde
"""

BRUSOC_FR = """\
Vous voulez lancer ou développer une petite entreprise à Bruxelles ? **BRUSOC** investit \
en capital de départ ou en prêts quand les banques ne suivent pas, et vous accompagne pas à pas.

- montants de 1 250 € à 95 000 €, en capital ou en prêt
- accompagnement personnel : plan d'affaires, démarches, obligations fiscales
- conditions et zones d'intervention prioritaires

Inscription sur validation : nous vérifions que votre projet correspond au programme.
"""

BRUSOC_NL = """\
Wil je in Brussel een kleine onderneming starten of uitbouwen? **BRUSOC** investeert met \
startkapitaal of leningen wanneer de bank niet volgt, en begeleidt je stap voor stap. \
De sessie is in het Frans; vragen in het Nederlands zijn welkom.

- bedragen van € 1 250 tot € 95 000, als kapitaal of lening
- persoonlijke begeleiding: ondernemingsplan, papierwerk, fiscale verplichtingen
- voorwaarden en prioritaire interventiezones
"""

WEBINAR_NL = """\
Een online lunchsessie van een uur: hoe bereid je een **financieringsdossier** voor dat een \
kredietcomité overtuigt?

- wat een kredietcomité wil zien
- een realistisch financieel plan in vijf stappen
- veelgemaakte fouten

Je krijgt de link naar de online sessie in je bevestigingsmail.
"""

WEBINAR_FR = """\
Une session en ligne d'une heure, sur le temps de midi : comment préparer un **dossier de \
financement** qui convainc un comité de crédit ?

- ce qu'un comité de crédit veut voir
- un plan financier réaliste en cinq étapes
- les erreurs fréquentes
"""

WORKSHOPS = [
    (
        TitleTexts(
            nl="Workshop ondernemingsplan 1/3: je idee en je klant",
            fr="Atelier plan d'affaires 1/3 : votre idée et votre client",
        ),
        DescriptionTexts(
            nl="Eerste avond van de reeks **Ondernemingsplan in drie stappen**.\n\n"
            "- je waardepropositie scherp stellen\n- je doelgroep en je concurrenten\n",
            fr="Première soirée de la série **Plan d'affaires en trois étapes**.\n\n"
            "- clarifier votre proposition de valeur\n- votre public cible et vos concurrents\n",
        ),
    ),
    (
        TitleTexts(
            nl="Workshop ondernemingsplan 2/3: prijs en verkoop",
            fr="Atelier plan d'affaires 2/3 : prix et vente",
        ),
        DescriptionTexts(
            nl="Tweede avond van de reeks **Ondernemingsplan in drie stappen**.\n\n"
            "- een prijs die je kosten dekt\n- je verkoopkanalen kiezen\n",
            fr="Deuxième soirée de la série **Plan d'affaires en trois étapes**.\n\n"
            "- un prix qui couvre vos coûts\n- choisir vos canaux de vente\n",
        ),
    ),
    (
        TitleTexts(
            nl="Workshop ondernemingsplan 3/3: je financieel plan",
            fr="Atelier plan d'affaires 3/3 : votre plan financier",
        ),
        DescriptionTexts(
            nl="Laatste avond van de reeks **Ondernemingsplan in drie stappen**.\n\n"
            "- startbudget en financieringsbehoefte\n- je plan klaarmaken voor een kredietaanvraag\n",
            fr="Dernière soirée de la série **Plan d'affaires en trois étapes**.\n\n"
            "- budget de départ et besoin de financement\n- préparer votre plan pour une demande de crédit\n",
        ),
    ),
]


async def _events(org: dict[str, int], now: datetime) -> int:
    """Create the demo events; returns the id of the co-hosted microcredit session."""
    today = now.date()

    start, end = _on(_day(today, 1, 3), time(18, 30), time(20, 30))
    first_event = await _event(
        org["de-punt"],
        EventInput(
            kind="info_session",
            title=TitleTexts(
                nl="Infosessie Impulskrediet: starten met een microkrediet",
                fr="Séance d'information Impulskrediet : démarrer avec un microcrédit",
                en="Info session Impulskrediet: starting up with a microcredit",
            ),
            description=DescriptionTexts(nl=IMPULS_NL, fr=IMPULS_FR, en=IMPULS_EN),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Zaal Schelde"),
            capacity=40,
            reminder_hours=[48, 2],
            hosts=["hefboom"],
        ),
    )

    start, end = _on(_day(today, 2, 2), time(12), time(13))
    await _event(
        org["hefboom"],
        EventInput(
            kind="info_session",
            title=TitleTexts(
                nl="Webinar: je financieringsdossier voorbereiden",
                fr="Webinaire : préparer votre dossier de financement",
            ),
            description=DescriptionTexts(nl=WEBINAR_NL, fr=WEBINAR_FR),
            starts_at=start,
            ends_at=end,
            online_url="https://meet.example/hefboom-financieringsdossier",
            capacity=60,
            reminder_hours=[48, 2],
        ),
    )

    start, end = _on(_day(today, 3, 3), time(9), time(16))
    await _event(
        org["hefboom"],
        EventInput(
            kind="consultation_day",
            title=TitleTexts(
                nl="Zitdag Impulskrediet bij De Punt",
                fr="Journée de consultation Impulskrediet à De Punt",
            ),
            description=DescriptionTexts(nl=ZITDAG_NL, fr=ZITDAG_FR),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Vergaderruimte 2"),
            registration_closes_at=start - timedelta(days=1),
            reminder_hours=[48, 2],
        ),
    )

    start, end = _on(_day(today, 4, 0), time(19), time(21))
    await _event(
        org["hefboom"],
        EventInput(
            kind="info_session",
            title=TitleTexts(
                nl="Infosessie Cultuurkrediet: financiering voor de cultuursector",
                fr="Séance d'information Cultuurkrediet : un crédit pour le secteur culturel",
            ),
            description=DescriptionTexts(nl=CULTUUR_NL, fr=CULTUUR_FR),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Zaal Leie"),
            capacity=25,
            requires_approval=True,
            reminder_hours=[48, 2],
            hosts=["de-punt"],
        ),
    )

    start, end = _on(_day(today, 5, 2), time(9), time(12))
    await _event(
        org["brusoc"],
        EventInput(
            kind="info_session",
            title=TitleTexts(
                fr="Séance d'information BRUSOC : financer votre petite entreprise à Bruxelles",
                nl="Infosessie BRUSOC (in het Frans): je kleine onderneming in Brussel financieren",
            ),
            description=DescriptionTexts(fr=BRUSOC_FR, nl=BRUSOC_NL),
            starts_at=start,
            ends_at=end,
            venue=VenueInput(**_BRUSOC, room="Salle Canal"),
            capacity=30,
            requires_approval=True,
            reminder_hours=[48, 2],
        ),
    )

    start, end = _on(_day(today, 6, 3), time(18), time(21))
    await _event(
        org["de-punt"],
        EventInput(
            kind="networking",
            title=TitleTexts(
                nl="Netwerkavond sociaal ondernemen Gent–Brussel",
                fr="Soirée de réseautage entrepreneuriat social Gand–Bruxelles",
                en="Social enterprise networking evening Ghent–Brussels",
            ),
            description=DescriptionTexts(nl=NETWORK_NL, fr=NETWORK_FR, en=NETWORK_EN),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Zaal Schelde"),
            capacity=60,
            registration_closes_at=start - timedelta(days=1),
            reminder_hours=[48, 2],
            hosts=["hefboom", "brusoc"],
        ),
    )

    start, end = _on(_day(today, 8, 4), time(9), time(12))
    await _event(
        org["hefboom"],
        EventInput(
            kind="info_session",
            title=TitleTexts(nl="Infosessie microkrediet voor starters (ochtendeditie)"),
            description=DescriptionTexts(nl=IMPULS_MORNING_NL),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Zaal Leie"),
            capacity=20,
            reminder_hours=[48, 2],
            hosts=["de-punt"],
        ),
    )

    # Each step has its own title, so the occurrences are made here rather than by
    # series.create_series (which gives every date the same texts); the rule, first start and
    # length are stored all the same, so the series pages preview and edit it like any other.
    tuesdays = _first_tuesdays(today, 3)
    series_rows = await Series.insert(
        Series(
            organisation=org["de-punt"],
            title_nl="Ondernemingsplan in drie stappen",
            title_fr="Plan d'affaires en trois étapes",
            rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=3",
            timezone=TIMEZONE,
            dtstart_local=f"{tuesdays[0].isoformat()}T19:00",
            duration_minutes=120,
        )
    )
    series_id: int = series_rows[0]["id"]
    for day, (title, description) in zip(tuesdays, WORKSHOPS, strict=True):
        start, end = _on(day, time(19), time(21))
        occurrence = await _event(
            org["de-punt"],
            EventInput(
                kind="workshop",
                title=title,
                description=description,
                starts_at=start,
                ends_at=end,
                venue=_de_punt("Zaal Leie"),
                capacity=20,
                reminder_hours=[48, 2],
                series_id=series_id,
            ),
        )
        await Event.update({Event.series_original_start: start}).where(Event.id == occurrence)

    start, end = _on(_day(today, 10, 2), time(8), time(10))
    await _event(
        org["de-punt"],
        EventInput(
            kind="networking",
            title=TitleTexts(
                nl="Netwerkontbijt voor sociale ondernemers",
                fr="Petit-déjeuner réseau pour entrepreneurs sociaux",
            ),
            description=DescriptionTexts(
                nl="Nog in voorbereiding: een ontbijt om ervaringen uit te wisselen.\n\n"
                "- korte voorstellingsronde\n- tafels per sector\n",
                fr="En préparation : un petit-déjeuner pour échanger vos expériences.\n\n"
                "- courte présentation de chacun\n- tables par secteur\n",
            ),
            starts_at=start,
            ends_at=end,
            venue=_de_punt("Zaal Schelde"),
            capacity=30,
            reminder_hours=[48, 2],
        ),
        publish=False,
    )
    return first_event


DEMO_PARTICIPANTS: list[tuple[str, str, Literal["nl", "fr", "en"], str]] = [
    ("Sofie Claeys", "sofie@example.org", "nl", "Bakkerij Claeys"),
    ("Karim Benali", "karim@example.org", "fr", "Benali Design"),
    ("Ana Costa", "ana@example.org", "en", ""),
]


async def _participants(event_id: int) -> None:
    """Three participants register, then the time changes, so the mailbox at /dev/mail shows
    confirmations with invites and their update, in three languages."""
    for name, email, language, company in DEMO_PARTICIPANTS:
        await register(
            event_id, RegistrationInput(name=name, email=email, language=language, company=company), source="demo"
        )
    event = await Event.select(Event.starts_at, Event.ends_at).where(Event.id == event_id).first()
    assert event is not None
    later = timedelta(minutes=30)
    await update_event(
        CLI_ACTOR, event_id, EventPatch(starts_at=event["starts_at"] + later, ends_at=event["ends_at"] + later)
    )


async def load_demo(*, if_empty: bool = False) -> bool:
    """Load the demo organisations, organisers and events.

    With `if_empty`, do nothing (and return False) when any organisation exists already, so a
    first `make run` gets demo data and later runs leave real data alone.
    """
    if if_empty and await Organisation.count() > 0:
        return False
    org = await _organisations()
    await _organisers()
    first_event = await _events(org, datetime.now(ZoneInfo(TIMEZONE)))
    await _participants(first_event)
    return True
