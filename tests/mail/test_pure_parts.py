"""Pure parts of delivery: the retry backoff, SMTP_URL parsing, and header hygiene of build_message."""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta

import pytest

SAMPLES = 200


def _config(base: float = 30, cap: float = 3600):  # type: ignore[no-untyped-def]
    from events.mail.worker import WorkerConfig

    return WorkerConfig(retry_base=timedelta(seconds=base), retry_cap=timedelta(seconds=cap))


def _delays(attempts: int, config) -> list[float]:  # type: ignore[no-untyped-def]
    from events.mail.worker import backoff

    return [backoff(attempts, config).total_seconds() for _ in range(SAMPLES)]


@pytest.mark.parametrize("attempts", [1, 2, 3, 4, 5, 6])
def test_backoff_doubles_per_attempt_within_twenty_percent_jitter(attempts):
    config = _config()
    nominal = 30 * 2 ** (attempts - 1)
    delays = _delays(attempts, config)

    assert all(0.8 * nominal <= delay <= 1.2 * nominal for delay in delays), (min(delays), max(delays), nominal)
    assert len(set(delays)) > SAMPLES // 2, "jitter spreads retries of many messages"
    assert 0.9 * nominal <= statistics.mean(delays) <= 1.1 * nominal


def test_backoff_grows_exponentially():
    config = _config()
    means = [statistics.mean(_delays(attempts, config)) for attempts in range(1, 7)]

    for earlier, later in itertools.pairwise(means):
        assert 1.6 < later / earlier < 2.5


def test_backoff_of_attempt_zero_or_one_is_the_base():
    config = _config()
    for attempts in (0, 1):
        assert all(24 <= delay <= 36 for delay in _delays(attempts, config))


def test_backoff_never_exceeds_the_cap():
    config = _config(base=30, cap=600)
    for attempts in range(1, 11):
        delays = _delays(attempts, config)
        assert max(delays) <= 600, f"attempt {attempts}: {max(delays):.0f}s is above the 600s cap"
    assert min(_delays(10, config)) >= 0.8 * 600, "capped delays still wait about the cap"


def test_backoff_is_capped_for_any_attempt_count():
    from events.mail.worker import backoff

    config = _config(base=30, cap=3600)
    for attempts in (20, 45, 100, 1000):
        delay = backoff(attempts, config)
        assert timedelta(0) < delay <= timedelta(seconds=3600) * 1.2, (attempts, delay)


def test_backoff_with_a_zero_base_retries_at_once():
    from events.mail.worker import backoff

    config = _config(base=0)
    assert {backoff(attempts, config) for attempts in range(1, 6)} == {timedelta(0)}


# SMTP_URL ----------------------------------------------------------------------------------------


def test_plain_smtp_url():
    from events.mail.delivery import parse_smtp_url

    config = parse_smtp_url("smtp://mail.example.test:2525", timeout=7.5)
    assert (config.hostname, config.port) == ("mail.example.test", 2525)
    assert (config.username, config.password) == (None, None)
    assert (config.use_tls, config.start_tls) == (False, False)
    assert config.timeout == 7.5


def test_plain_smtp_url_defaults_to_port_25():
    from events.mail.delivery import parse_smtp_url

    config = parse_smtp_url("smtp://mail.example.test")
    assert config.port == 25
    assert (config.use_tls, config.start_tls) == (False, False)


def test_starttls_url_with_percent_encoded_credentials():
    from events.mail.delivery import parse_smtp_url

    config = parse_smtp_url("smtp+starttls://user:p%40ss@mail.example.test:587")
    assert (config.hostname, config.port) == ("mail.example.test", 587)
    assert (config.username, config.password) == ("user", "p@ss")
    assert (config.use_tls, config.start_tls) == (False, True)


def test_starttls_url_defaults_to_port_587():
    from events.mail.delivery import parse_smtp_url

    assert parse_smtp_url("smtp+starttls://mail.example.test").port == 587


def test_smtps_url_is_implicit_tls_on_465():
    from events.mail.delivery import parse_smtp_url

    config = parse_smtp_url("smtps://apikey:s%3Acret%2F@smtp.example.test")
    assert (config.hostname, config.port) == ("smtp.example.test", 465)
    assert (config.username, config.password) == ("apikey", "s:cret/")
    assert (config.use_tls, config.start_tls) == (True, False)


def test_scheme_is_case_insensitive():
    from events.mail.delivery import parse_smtp_url

    assert parse_smtp_url("SMTPS://smtp.example.test:1465").use_tls is True


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.test", "smtp+ssl://mail.example.test", "mail.example.test:25", "smtp://", ""],
)
def test_a_bad_smtp_url_is_refused(url):
    from events.mail.delivery import parse_smtp_url

    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url(url)


# Headers of build_message ----------------------------------------------------------------------


def _parts(**overrides):  # type: ignore[no-untyped-def]
    from events.mail.message import MailParts

    values = {
        "recipient": "jan@example.test",
        "recipient_name": "Jan Peeters",
        "sender_address": "trefpunt@example.test",
        "sender_name": "De Punt via Trefpunt",
        "reply_to": "info@depunt.example",
        "subject": "Registration confirmed: Info session",
        "text_body": "Hello",
        "html_body": "<p>Hello</p>",
        "ics": "",
        "ics_method": "",
        "message_id": "<1@example.test>",
        "language": "en",
        "created_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return MailParts(**values)


def test_control_characters_never_reach_the_headers_raw():
    """RELIABILITY.md: NUL and friends are rejected or encoded safely. Organisation names reach
    From/Reply-To unchecked, so the message builder is the last line of defence."""
    from events.mail.message import build_message

    leaks = []
    for field, value in (("recipient_name", "Jan"), ("sender_name", "De Punt"), ("subject", "Info")):
        for char in ("\x00", "\x1b", "\x7f", "\x0b"):
            try:
                message = build_message(_parts(**{field: f"{value}{char}Evil"}))
                head = message.as_bytes().split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            except ValueError:
                continue  # refused outright: fine too
            if any((byte < 32 and byte not in (9, 10, 13)) or byte == 127 for byte in head):
                leaks.append(f"{field} with {char!r}")
    assert not leaks, f"raw control bytes reach the headers for: {', '.join(leaks)}"
