"""Statistics per event, series and organisation over a period, with server-rendered SVG charts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.numbers import format_percent
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from events import i18n
from events.services import statistics
from events.services.access import Actor
from events.services.errors import InvalidInput, NotFound
from events.tables import Organisation
from events.web.auth import session_organiser
from events.web.charts import bar_chart, column_chart
from events.web.errors import localise

From = Annotated[str | None, QueryParameter(name="from", max_length=40)]
To = Annotated[str | None, QueryParameter(max_length=40)]


def percent(rate: float) -> str:
    """A share as people read it in their language: 33.3% / 33,3%."""
    return format_percent(rate, format="#,##0.0%", locale=i18n.current_language.get())


def _today() -> date:
    return datetime.now(ZoneInfo(statistics.STATISTICS_TIMEZONE)).date()


def _page(organiser: Actor, scope: str, **context: Any) -> dict[str, Any]:
    return {
        "organiser": organiser,
        "scope": scope,
        "bar_chart": bar_chart,
        "column_chart": column_chart,
        "percent": percent,
        "error": None,
        "error_field": None,
        "report": None,
        **context,
    }


def _form_values(from_: str | None, to: str | None, default: statistics.Period | None) -> dict[str, str]:
    """What the period fields show: the input as given, or the default period."""
    if from_ is None and to is None:
        start = default.start.isoformat() if default and default.start else ""
        end = default.end.isoformat() if default and default.end else ""
        return {"form_from": start, "form_to": end}
    return {"form_from": from_ or "", "form_to": to or ""}


def _invalid(context: dict[str, Any], error: InvalidInput) -> Template:
    context.update(error=localise(error.message, **error.params), error_field=error.field)
    return Template("admin/statistics.html", context=context, status_code=400)


class AdminStatisticsController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/statistics", name="admin-statistics")
    async def organisation_statistics(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        from_: From = None,
        to: To = None,
    ) -> Template:
        """An organisation's events (owned or co-hosted) that start in the period; by default
        the organiser's first organisation, the last twelve months and everything upcoming."""
        organisations = (
            await Organisation.select(
                Organisation.id, Organisation.slug, Organisation.name_nl, Organisation.name_fr, Organisation.name_en
            )
            .where(Organisation.id.is_in(list(organiser.roles) or [-1]))
            .order_by(Organisation.slug)
        )
        chosen = organisation if organisation is not None else (organisations[0]["id"] if organisations else None)
        if chosen is not None and organiser.role_in(chosen) is None:
            raise NotFound()
        context = _page(
            organiser,
            "organisation",
            organisations=organisations,
            chosen=chosen,
            **_form_values(from_, to, statistics.default_period(_today())),
        )
        if chosen is None:
            return Template("admin/statistics.html", context=context)
        try:
            period = statistics.parse_period(from_, to, _today())
        except InvalidInput as error:
            return _invalid(context, error)
        context["report"] = await statistics.organisation_statistics(organiser, chosen, period)
        return Template("admin/statistics.html", context=context)

    @get("/series/{series_id:int}/statistics", name="admin-series-statistics")
    async def series_statistics(
        self, organiser: NamedDependency[Actor], series_id: FromPath[int], from_: From = None, to: To = None
    ) -> Template:
        """A series' occurrences: all of them, or those starting in the period asked for."""
        title, _ = await statistics.series_access(organiser, series_id)
        context = _page(organiser, "series", series_id=series_id, title=title, **_form_values(from_, to, None))
        period: statistics.Period | None = None
        if from_ is not None or to is not None:
            try:
                period = statistics.parse_period(from_ or "", to or "", _today())
            except InvalidInput as error:
                return _invalid(context, error)
        context["report"] = await statistics.series_statistics(organiser, series_id, period)
        return Template("admin/statistics.html", context=context)

    @get("/events/{event_id:int}/statistics", name="admin-event-statistics")
    async def event_statistics(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        """One event, for its owner and its co-hosts."""
        report = await statistics.event_statistics(organiser, event_id)
        return Template("admin/statistics.html", context=_page(organiser, "event", report=report, title=report.title))
