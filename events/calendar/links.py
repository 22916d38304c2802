"""Pure: subscribe and add-to-calendar links for Google, Outlook.com and webcal clients."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlencode


def webcal(url: str) -> str:
    """The same feed for Apple Calendar and Outlook desktop, which open webcal:// links."""
    return "webcal://" + url.split("://", 1)[1]


def google_subscribe(url: str) -> str:
    return "https://calendar.google.com/calendar/r?" + urlencode({"cid": webcal(url)})


def outlook_subscribe(url: str, name: str) -> str:
    return "https://outlook.live.com/calendar/0/addfromweb?" + urlencode({"url": url, "name": name})


def _google_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_add(title: str, starts_at: datetime, ends_at: datetime, details: str, location: str) -> str:
    query = urlencode(
        {
            "action": "TEMPLATE",
            "text": title,
            "dates": f"{_google_time(starts_at)}/{_google_time(ends_at)}",
            "details": details,
            "location": location,
        },
        quote_via=quote,
    )
    return f"https://calendar.google.com/calendar/render?{query}"


def outlook_add(title: str, starts_at: datetime, ends_at: datetime, details: str, location: str) -> str:
    query = urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": title,
            "startdt": starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "enddt": ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "body": details,
            "location": location,
        },
        quote_via=quote,
    )
    return f"https://outlook.live.com/calendar/0/deeplink/compose?{query}"
