"""Series: a recurrence rule with a preview, materialised occurrences, this one / this and following / all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import get_day_names
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from events import i18n
from events.services import series as series_service
from events.services.access import Actor
from events.services.errors import N_, Forbidden, InvalidInput, NotFound
from events.services.events import DescriptionTexts, TitleTexts, VenueInput
from events.services.series import SeriesChanges, SeriesForm
from events.settings import DEFAULT_TIMEZONE, LANGUAGES
from events.tables import Event, Organisation, Room, Venue
from events.web.auth import session_organiser
from events.web.errors import localise

Short = Annotated[str, msgspec.Meta(max_length=200)]
Long = Annotated[str, msgspec.Meta(max_length=20_000)]


class MoveForm(msgspec.Struct):
    new_date: Short = ""
    new_time: Short = ""


class ExceptionForm(msgspec.Struct):
    date: Short = ""


class EditForm(msgspec.Struct, kw_only=True):
    """ "Edit the series" as posted; a field counts as changed when it differs from the
    occurrence the edit starts from."""

    scope: Short = "this"
    title_nl: Short = ""
    title_fr: Short = ""
    title_en: Short = ""
    description_nl: Long = ""
    description_fr: Long = ""
    description_en: Long = ""
    start_time: Short = ""
    duration_minutes: Short = ""
    capacity: Short = ""
    venue_name: Short = ""
    venue_address: Short = ""
    venue_room: Short = ""
    action: Short = "review"
    confirm_events: Short = ""
    confirm_people: Short = ""


def _day_names() -> dict[str, str]:
    names = get_day_names("wide", locale=i18n.current_language.get())
    return {code: str(names[index]) for index, code in enumerate(series_service.WEEKDAYS)}


def rule_in_words(rule: series_service.RuleParts | None, rrule: str) -> str:
    """ "Every 2 weeks on Tuesday, 6 times" in the page's language."""
    if rule is None:
        return rrule or i18n.gettext("No rule")
    names = _day_names()
    positions = {
        1: i18n.gettext("first"),
        2: i18n.gettext("second"),
        3: i18n.gettext("third"),
        4: i18n.gettext("fourth"),
        -1: i18n.gettext("last"),
    }
    if rule.frequency == "weekly":
        days = ", ".join(names[d] for d in rule.weekdays)
        text = i18n.ngettext("Every week on %(days)s", "Every %(num)s weeks on %(days)s", rule.interval) % {
            "num": rule.interval,
            "days": days,
        }
    elif rule.frequency == "monthly_weekday":
        text = i18n.ngettext(
            "Every month on the %(position)s %(weekday)s",
            "Every %(num)s months on the %(position)s %(weekday)s",
            rule.interval,
        ) % {"num": rule.interval, "position": positions[rule.position], "weekday": names[rule.weekday]}
    else:
        text = i18n.ngettext("Every month on day %(day)s", "Every %(num)s months on day %(day)s", rule.interval) % {
            "num": rule.interval,
            "day": rule.month_day,
        }
    if rule.until is not None:
        text += ", " + i18n.gettext("until %(date)s") % {"date": rule.until.isoformat()}
    elif rule.count is not None:
        text += ", " + i18n.ngettext("%(num)s time", "%(num)s times", rule.count) % {"num": rule.count}
    return text


def _error(exc: InvalidInput) -> dict[str, Any]:
    return {"form_error": localise(exc.message, **exc.params), "form_field": exc.field}


async def _editable_organisations(organiser: Actor) -> list[dict[str, Any]]:
    ids = [org for org in organiser.roles if organiser.can_edit_for(org)]
    return await Organisation.select().where(Organisation.id.is_in(ids or [-1])).order_by(Organisation.slug)


async def _template_events(organisation_ids: list[int]) -> list[dict[str, Any]]:
    """Recent events of one's organisations a series can copy its settings from."""
    return (
        await Event.select(Event.id, Event.title_nl, Event.title_fr, Event.title_en, Event.starts_at, Event.timezone)
        .where(Event.organisation.is_in(organisation_ids or [-1]) & (Event.kind != "consultation_day"))
        .order_by(Event.starts_at, ascending=False)
        .limit(50)
    )


def _organisation_of(form: SeriesForm, editable: list[dict[str, Any]], organiser: Actor) -> int:
    if form.organisation.strip():
        try:
            return int(form.organisation)
        except ValueError:
            raise InvalidInput(N_("Choose an organisation."), field="organisation") from None
    if editable:
        return int(editable[0]["id"])
    if organiser.roles:
        return next(iter(organiser.roles))
    raise NotFound()


async def _occurrence_form(event_id: int) -> dict[str, str]:
    """The edit form's starting values: the occurrence as it is now."""
    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    local = row["starts_at"].astimezone(ZoneInfo(row["timezone"]))
    venue = await Venue.select().where(Venue.id == row["venue"]).first() if row["venue"] else None
    room = await Room.select().where(Room.id == row["room"]).first() if row["room"] else None
    values = {
        **{f"title_{lang}": row[f"title_{lang}"] for lang in LANGUAGES},
        **{f"description_{lang}": row[f"description_{lang}"] for lang in LANGUAGES},
        "start_time": f"{local:%H:%M}",
        "duration_minutes": str(int((row["ends_at"] - row["starts_at"]).total_seconds() // 60)),
        "capacity": "" if row["capacity"] is None else str(row["capacity"]),
        "venue_name": venue["name"] if venue else "",
        "venue_address": venue["address"] if venue else "",
        "venue_room": room["name"] if room else "",
    }
    return values


def _changes(form: EditForm, current: dict[str, str]) -> SeriesChanges:
    """Only what the organiser changed, checked field by field."""
    posted = {
        name: getattr(form, name).strip() if "description" not in name else getattr(form, name) for name in current
    }
    changed = {name for name, value in posted.items() if value != current[name]}
    changes = SeriesChanges()
    if any(f"title_{lang}" in changed for lang in LANGUAGES):
        if not any(posted[f"title_{lang}"] for lang in LANGUAGES):
            raise InvalidInput(N_("Give the series a title in at least one language."), field="title_nl")
        changes.title = TitleTexts(**{lang: posted[f"title_{lang}"] for lang in LANGUAGES})
    if any(f"description_{lang}" in changed for lang in LANGUAGES):
        changes.description = DescriptionTexts(**{lang: posted[f"description_{lang}"] for lang in LANGUAGES})
    if "start_time" in changed:
        changes.start_time = series_service.parse_time(posted["start_time"])
    if "duration_minutes" in changed:
        try:
            minutes = int(posted["duration_minutes"])
        except ValueError:
            minutes = 0
        if not 5 <= minutes <= series_service.MAX_DURATION_MINUTES:
            raise InvalidInput(N_("The length is a number of minutes between 5 and 1440."), field="duration_minutes")
        changes.duration_minutes = minutes
    if "capacity" in changed:
        if not posted["capacity"]:
            changes.capacity = None
        elif posted["capacity"].isdigit() and int(posted["capacity"]) <= 100_000:
            changes.capacity = int(posted["capacity"])
        else:
            raise InvalidInput(N_("Capacity is a whole number, or empty for no limit."), field="capacity")
    if changed & {"venue_name", "venue_address", "venue_room"}:
        if posted["venue_name"]:
            changes.venue = VenueInput(
                name=posted["venue_name"], address=posted["venue_address"], room=posted["venue_room"] or None
            )
        elif posted["venue_address"] or posted["venue_room"]:
            raise InvalidInput(N_("Give the venue a name."), field="venue_name")
        else:
            changes.venue = None
    return changes


class AdminSeriesController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/series", name="admin-series")
    async def series_list(self, organiser: NamedDependency[Actor]) -> Template:
        return Template(
            "admin/series_list.html",
            context={
                "organiser": organiser,
                "series": await series_service.list_series(organiser),
                "now": datetime.now(UTC),
                "can_create": bool(await _editable_organisations(organiser)),
            },
        )

    async def _form_page(
        self,
        organiser: Actor,
        form: SeriesForm,
        *,
        dates: list[series_service.PreviewDate] | None = None,
        error: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        editable = await _editable_organisations(organiser)
        return Template(
            "admin/series_form.html",
            context={
                "organiser": organiser,
                "f": form,
                "weekdays_chosen": form.weekday_list(),
                "organisations": editable,
                "templates": await _template_events([org["id"] for org in editable]),
                "dates": dates,
                "day_names": _day_names(),
                "weekday_codes": series_service.WEEKDAYS,
                "limit": series_service.MAX_OCCURRENCES,
                **(error or {}),
            },
            status_code=status_code,
        )

    @get("/series/new", name="admin-series-new")
    async def new_series(self, organiser: NamedDependency[Actor], template: FromQuery[int | None] = None) -> Template:
        if not await _editable_organisations(organiser):
            raise Forbidden()
        return await self._form_page(
            organiser, SeriesForm(template_event=str(template) if template else "", waitlist="on")
        )

    @post("/series/new", name="admin-series-create")
    async def create_series(
        self, organiser: NamedDependency[Actor], data: URLEncodedBody[SeriesForm]
    ) -> Template | Redirect:
        editable = await _editable_organisations(organiser)
        try:
            organisation_id = _organisation_of(data, editable, organiser)
            if data.action == "create":
                series_id = await series_service.create_series(organiser, organisation_id, data)
                return Redirect(f"/admin/series/{series_id}", status_code=303)
            dates = await series_service.preview_series(organiser, organisation_id, data)
        except InvalidInput as exc:
            return await self._form_page(organiser, data, error=_error(exc), status_code=422)
        return await self._form_page(organiser, data, dates=dates)

    async def _series_page(
        self, organiser: Actor, series_id: int, *, error: dict[str, Any] | None = None, status_code: int = 200
    ) -> Template:
        view = await series_service.get_series(organiser, series_id)
        return Template(
            "admin/series.html",
            context={
                "organiser": organiser,
                "s": view,
                "day_names": _day_names(),
                "rule_words": rule_in_words(view.rule, view.rrule),
                **(error or {}),
            },
            status_code=status_code,
        )

    @get("/series/{series_id:int}", name="admin-series-detail")
    async def series_detail(self, organiser: NamedDependency[Actor], series_id: FromPath[int]) -> Template:
        return await self._series_page(organiser, series_id)

    @post("/series/{series_id:int}/publish", name="admin-series-publish")
    async def publish(self, organiser: NamedDependency[Actor], series_id: FromPath[int]) -> Redirect:
        await series_service.publish_series(organiser, series_id)
        return Redirect(f"/admin/series/{series_id}", status_code=303)

    @post("/series/{series_id:int}/occurrences/{event_id:int}/cancel", name="admin-series-cancel")
    async def cancel(
        self, organiser: NamedDependency[Actor], series_id: FromPath[int], event_id: FromPath[int]
    ) -> Redirect:
        await series_service.cancel_occurrence(organiser, series_id, event_id)
        return Redirect(f"/admin/series/{series_id}", status_code=303)

    @post("/series/{series_id:int}/occurrences/{event_id:int}/move", name="admin-series-move")
    async def move(
        self,
        organiser: NamedDependency[Actor],
        series_id: FromPath[int],
        event_id: FromPath[int],
        data: URLEncodedBody[MoveForm],
    ) -> Template | Redirect:
        try:
            await series_service.move_occurrence(
                organiser, series_id, event_id, f"{data.new_date.strip()}T{data.new_time.strip()}"
            )
        except InvalidInput as exc:
            error = {**_error(exc), "form_event": event_id, "move": data}
            return await self._series_page(organiser, series_id, error=error, status_code=422)
        return Redirect(f"/admin/series/{series_id}", status_code=303)

    @post("/series/{series_id:int}/exceptions", name="admin-series-exception")
    async def add_exception(
        self, organiser: NamedDependency[Actor], series_id: FromPath[int], data: URLEncodedBody[ExceptionForm]
    ) -> Template | Redirect:
        try:
            await series_service.add_exception(organiser, series_id, data.date)
        except InvalidInput as exc:
            error = {**_error(exc), "exception_date": data.date}
            return await self._series_page(organiser, series_id, error=error, status_code=422)
        return Redirect(f"/admin/series/{series_id}", status_code=303)

    async def _from_event(self, organiser: Actor, series_id: int, from_: int | None) -> tuple[Any, int]:
        view = await series_service.get_series(organiser, series_id)
        if from_ is None:
            open_ = [o for o in view.occurrences if o.status != "cancelled"]
            if not open_:
                raise NotFound(N_("This series has no occurrence left to change."))
            from_ = open_[0].id
        if not any(o.id == from_ for o in view.occurrences):
            raise NotFound(N_("This occurrence is not part of the series."))
        return view, from_

    def _edit_page(
        self,
        organiser: Actor,
        view: Any,
        from_id: int,
        values: dict[str, str],
        scope: str,
        *,
        plan: series_service.UpdatePlan | None = None,
        error: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        origin = next(o for o in view.occurrences if o.id == from_id)
        return Template(
            "admin/series_edit.html",
            context={
                "organiser": organiser,
                "s": view,
                "origin": origin,
                "f": values,
                "scope": scope,
                "plan": plan,
                **(error or {}),
            },
            status_code=status_code,
        )

    @get("/series/{series_id:int}/edit", name="admin-series-edit")
    async def edit_form(
        self,
        organiser: NamedDependency[Actor],
        series_id: FromPath[int],
        from_: Annotated[int | None, QueryParameter(name="from")] = None,
    ) -> Template:
        view, from_id = await self._from_event(organiser, series_id, from_)
        if not view.can_edit:
            raise Forbidden()
        return self._edit_page(organiser, view, from_id, await _occurrence_form(from_id), "this")

    @post("/series/{series_id:int}/edit", name="admin-series-update")
    async def update(
        self,
        organiser: NamedDependency[Actor],
        series_id: FromPath[int],
        data: URLEncodedBody[EditForm],
        from_: Annotated[int | None, QueryParameter(name="from")] = None,
    ) -> Template | Redirect:
        view, from_id = await self._from_event(organiser, series_id, from_)
        if not view.can_edit:
            raise Forbidden()
        current = await _occurrence_form(from_id)
        values = {name: getattr(data, name) for name in current}
        try:
            changes = _changes(data, current)
            if changes.is_empty():
                raise InvalidInput(N_("Nothing was changed."), field="title_nl")
            plan = await series_service.plan_update(organiser, series_id, from_id, data.scope, changes)
            confirmed = data.action == "apply" and data.confirm_events == str(len(plan.event_ids))
            if confirmed and data.confirm_people == str(plan.people):
                await series_service.update_series(organiser, series_id, from_id, data.scope, changes)
                return Redirect(f"/admin/series/{series_id}", status_code=303)
        except InvalidInput as exc:
            return self._edit_page(organiser, view, from_id, values, data.scope, error=_error(exc), status_code=422)
        return self._edit_page(organiser, view, from_id, values, data.scope, plan=plan)

    @get("/series/{series_id:int}/rule", name="admin-series-rule")
    async def rule_form(
        self,
        organiser: NamedDependency[Actor],
        series_id: FromPath[int],
        from_: Annotated[int | None, QueryParameter(name="from")] = None,
    ) -> Template:
        view, from_id = await self._from_event(organiser, series_id, from_)
        if not view.can_edit:
            raise Forbidden()
        return self._rule_page(organiser, view, from_id, _rule_form_for(view, from_id))

    def _rule_page(
        self,
        organiser: Actor,
        view: Any,
        from_id: int,
        form: SeriesForm,
        *,
        dates: list[series_service.PreviewDate] | None = None,
        error: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        return Template(
            "admin/series_rule.html",
            context={
                "organiser": organiser,
                "s": view,
                "origin": next(o for o in view.occurrences if o.id == from_id),
                "f": form,
                "weekdays_chosen": form.weekday_list(),
                "dates": dates,
                "day_names": _day_names(),
                "weekday_codes": series_service.WEEKDAYS,
                **(error or {}),
            },
            status_code=status_code,
        )

    @post("/series/{series_id:int}/rule", name="admin-series-rule-change")
    async def change_rule(
        self,
        organiser: NamedDependency[Actor],
        series_id: FromPath[int],
        data: URLEncodedBody[SeriesForm],
        from_: Annotated[int | None, QueryParameter(name="from")] = None,
    ) -> Template | Redirect:
        view, from_id = await self._from_event(organiser, series_id, from_)
        if not view.can_edit:
            raise Forbidden()
        try:
            if data.action == "create":
                result = await series_service.change_rule_from(organiser, series_id, from_id, data)
                return Redirect(f"/admin/series/{result.series_id}", status_code=303)
            dates = series_service.preview(series_service.check_rule(data))
        except InvalidInput as exc:
            return self._rule_page(organiser, view, from_id, data, error=_error(exc), status_code=422)
        return self._rule_page(organiser, view, from_id, data, dates=dates)


def _rule_form_for(view: series_service.SeriesView, from_id: int) -> SeriesForm:
    """The rule form prefilled with the series' rule, starting at the chosen occurrence."""
    origin = next(o for o in view.occurrences if o.id == from_id)
    start = (origin.original_start or origin.starts_at).astimezone(ZoneInfo(view.timezone))
    rule = view.rule
    form = SeriesForm(
        timezone=view.timezone or DEFAULT_TIMEZONE,
        start_date=f"{start:%Y-%m-%d}",
        start_time=f"{start:%H:%M}",
        duration_minutes=str(view.duration_minutes),
        exdates=", ".join(d.isoformat() for d in view.exdates if d >= start.date()),
    )
    if rule is not None:
        form.frequency = rule.frequency
        form.interval = str(rule.interval)
        form.weekdays = list(rule.weekdays)
        form.position = str(rule.position)
        form.weekday = rule.weekday
        form.month_day = str(rule.month_day) if rule.frequency == "monthly_day" else ""
        if rule.until is not None:
            form.end, form.until = "until", rule.until.isoformat()
        else:
            later = [
                o
                for o in view.occurrences
                if (o.original_start or o.starts_at) >= (origin.original_start or origin.starts_at)
            ]
            form.end, form.count = "count", str(max(1, len(later)))
    return form
