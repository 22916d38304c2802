"""The SVG charts are pure functions: well-formed XML, one bar per value, named for assistive
technology, labels as text (never markup), and a readable chart for no data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from events.web.charts import ACCENT, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quotes\""


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{SVG}rect[@class='bar']")


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_a_chart_is_an_image_named_by_its_title_with_one_bar_per_value(chart) -> None:
    items = [("2025-W01", 3), ("2025-W02", 0), ("2025-W03", 7), ("2025-W04", 1)]
    root = parse(chart(items, chart_id="weeks", title="Registrations per week"))
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "Registrations per week"
    assert root.get("aria-labelledby") == title.get("id") == "weeks-title"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", "")), "a fixed viewBox scales to any width"
    assert root.get("width") == "100%" and "style" not in root.attrib, "no inline style under the CSP"
    found = bars(root)
    assert len(found) == len(items)
    assert [bar.findtext(f"{SVG}title") for bar in found] == [
        "2025-W01: 3",
        "2025-W02: 0",
        "2025-W03: 7",
        "2025-W04: 1",
    ]
    assert {bar.get("fill") for bar in found} == {ACCENT}


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_bars_are_proportional_to_their_values(chart) -> None:
    root = parse(chart([("a", 2), ("b", 4), ("c", 1)], chart_id="p", title="t"))
    size = "width" if chart is bar_chart else "height"
    lengths = [float(bar.get(size, "0")) for bar in bars(root)]
    assert lengths[1] == pytest.approx(2 * lengths[0]) and lengths[0] == pytest.approx(2 * lengths[2])
    assert lengths[1] > 0


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_labels_and_titles_are_text_never_markup(chart) -> None:
    markup = chart([(HOSTILE, 5)], chart_id="x", title=HOSTILE)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    root = parse(markup)
    assert root.findtext(f"{SVG}title") == HOSTILE
    assert bars(root)[0].findtext(f"{SVG}title") == f"{HOSTILE}: 5"
    assert not root.findall(f".//{SVG}script")


def test_a_translated_label_that_is_already_markup_is_escaped_exactly_once() -> None:
    root = parse(bar_chart([(Markup("Dupont &amp; fils"), 1)], chart_id="m", title="t"))
    assert bars(root)[0].findtext(f"{SVG}title") == "Dupont & fils: 1"


def test_a_chart_id_cannot_break_out_of_its_attribute() -> None:
    root = parse(bar_chart([("a", 1)], chart_id='x" onload="alert(1)', title="t"))
    assert "onload" not in root.attrib
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", root.get("aria-labelledby", ""))


def test_long_labels_are_shortened_on_the_axis_but_whole_in_the_tooltip() -> None:
    label = "Infosessie microkrediet voor starters in Gent en omgeving"
    root = parse(bar_chart([(label, 2)], chart_id="l", title="t", label_chars=20))
    texts = [t.text or "" for t in root.findall(f"{SVG}text")]
    assert any(t.endswith("…") and len(t) <= 20 for t in texts)
    assert bars(root)[0].findtext(f"{SVG}title") == f"{label}: 2"


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_no_data_is_a_small_chart_that_says_so(chart) -> None:
    root = parse(chart([], chart_id="e", title="Nothing", empty_text="No registrations yet."))
    assert bars(root) == []
    assert "No registrations yet." in [t.text for t in root.findall(f"{SVG}text")]


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_all_zero_values_draw_without_dividing_by_zero(chart) -> None:
    root = parse(chart([("a", 0), ("b", 0)], chart_id="z", title="t"))
    assert len(bars(root)) == 2


def test_the_value_axis_has_round_ticks_and_few_week_labels() -> None:
    items = [(f"2025-W{n:02d}", n % 7) for n in range(1, 53)]
    root = parse(column_chart(items, chart_id="w", title="t"))
    texts = [t.text or "" for t in root.findall(f"{SVG}text")]
    ticks = [t for t in texts if t.isdigit()]
    assert ticks == ["0", "2", "4", "6"], "whole, evenly spaced numbers"
    assert 1 < sum(1 for t in texts if t.startswith("2025-W")) <= 8, "labels never crowd each other"
    assert len(bars(root)) == 52
