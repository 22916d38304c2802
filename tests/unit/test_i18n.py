"""Language negotiation and the choice of a text among its translations (pure functions)."""

from __future__ import annotations

import pytest

from events.i18n import negotiate_language, parse_accept_language, pick_translation

# parse_accept_language ------------------------------------------------------------------------


def test_accept_language_is_ordered_by_q_value():
    assert parse_accept_language("en;q=0.5, fr;q=0.9, nl;q=0.7") == ["fr", "nl", "en"]


def test_accept_language_without_q_counts_as_one_and_keeps_header_order_on_ties():
    assert parse_accept_language("fr, en;q=1.0, nl") == ["fr", "en", "nl"]


def test_accept_language_reduces_region_subtags_to_the_language():
    assert parse_accept_language("fr-BE,nl-BE;q=0.8")[:2] == ["fr", "nl"]


def test_accept_language_is_case_insensitive():
    assert parse_accept_language("FR-be, EN;q=0.1") == ["fr", "en"]


def test_accept_language_drops_q_zero_and_malformed_q():
    assert parse_accept_language("fr;q=0, nl;q=abc, en") == ["en"]


@pytest.mark.parametrize("header", ["", " ", ",,,", ";q=0.5"])
def test_accept_language_tolerates_empty_or_broken_headers(header):
    assert all(isinstance(tag, str) for tag in parse_accept_language(header))


# negotiate_language ---------------------------------------------------------------------------


def test_query_wins_over_cookie_and_accept_language():
    assert negotiate_language("en", "fr", "nl") == "en"


def test_cookie_wins_over_accept_language():
    assert negotiate_language(None, "fr", "en,nl;q=0.5") == "fr"


def test_accept_language_decides_without_query_or_cookie():
    assert negotiate_language(None, None, "fr-BE,fr;q=0.9,nl;q=0.8") == "fr"


def test_first_supported_language_of_accept_language_is_chosen():
    assert negotiate_language(None, None, "de-DE,de;q=0.9,en;q=0.8,fr;q=0.7") == "en"


def test_higher_q_value_wins_over_header_order():
    assert negotiate_language(None, None, "en;q=0.3, fr;q=0.8") == "fr"


@pytest.mark.parametrize("header", [None, "", "de-DE,de;q=0.9", "*", "es, it;q=0.5", "fr;q=0"])
def test_unsupported_or_missing_languages_fall_back_to_dutch(header):
    assert negotiate_language(None, None, header) == "nl"


def test_unsupported_query_and_cookie_are_ignored():
    assert negotiate_language("de", "xx", "en") == "en"


def test_query_and_cookie_are_case_insensitive():
    assert negotiate_language("FR", None, None) == "fr"
    assert negotiate_language(None, "En", None) == "en"


def test_empty_query_falls_through_to_the_cookie():
    assert negotiate_language("", "fr", "en") == "fr"


# pick_translation -----------------------------------------------------------------------------


def test_pick_translation_gives_the_requested_language_when_present():
    assert pick_translation({"nl": "Infosessie", "fr": "Séance", "en": "Session"}, "fr") == ("Séance", "fr")


def test_pick_translation_falls_back_to_dutch_first():
    assert pick_translation({"fr": "Séance", "nl": "Infosessie", "en": "Session"}, "de") == ("Infosessie", "nl")
    assert pick_translation({"en": "Session", "nl": "Infosessie"}, "fr") == ("Infosessie", "nl")


def test_pick_translation_then_falls_back_to_french_before_english():
    assert pick_translation({"en": "Session", "fr": "Séance"}, "nl") == ("Séance", "fr")


def test_pick_translation_uses_english_when_it_is_the_only_text():
    assert pick_translation({"en": "Session"}, "nl") == ("Session", "en")
    assert pick_translation({"en": "Session"}, "fr") == ("Session", "en")


def test_pick_translation_treats_an_empty_text_as_missing():
    assert pick_translation({"fr": "", "nl": "Infosessie"}, "fr") == ("Infosessie", "nl")


def test_pick_translation_of_nothing_is_empty_in_the_requested_language():
    assert pick_translation({}, "fr") == ("", "fr")
    assert pick_translation({"nl": "", "fr": "", "en": ""}, "en") == ("", "en")
