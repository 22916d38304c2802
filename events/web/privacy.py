"""/privacy: a participant asks for their data or its erasure (a mailed link, valid 24 hours).

The form answers the same whether or not the address is known; it is limited per client here
and per address in the service. The link's page only reads; erasing is a button that POSTs.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from events import i18n
from events.services import privacy
from events.services.errors import N_, DomainError
from events.settings import LANGUAGES, get_settings
from events.web.errors import localise
from events.web.middleware import LANG_COOKIE
from events.web.participant import MIN_FILL_SECONDS, form_stamp, stamp_age

PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
# The form's signed time stamp uses this "event id": no event has it.
FORM_ID = 0


def _is_privacy_request(request: Request[Any, Any, Any]) -> bool:
    return get_settings().rate_limit and request.method == "POST" and request.url.path == "/privacy"


# Per client address: a person needs one or two; a bot probing addresses gets 429.
PER_CLIENT = RateLimitConfig(
    rate_limit=("hour", 10),
    store="rate_limit",
    check_throttle_handler=_is_privacy_request,
    identifier_for_request=lambda request: "privacy:" + get_remote_address(request),
)


class AskForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    language: Annotated[str, msgspec.Meta(max_length=2)] = ""
    stamp: Annotated[str, msgspec.Meta(max_length=100)] = ""
    website: Annotated[str, msgspec.Meta(max_length=300)] = ""  # the honeypot


class EraseForm(msgspec.Struct):
    confirm: Annotated[str, msgspec.Meta(max_length=10)] = ""


def _ask_page(form: dict[str, Any] | None = None, error: str | None = None, status_code: int = 200) -> Template:
    return Template(
        "public/privacy.html",
        context={"form": form or {}, "form_error": error, "stamp": form_stamp(FORM_ID)},
        status_code=status_code,
        headers=PRIVATE,
    )


def _speak(request: Request[Any, Any, Any], language: str | None) -> None:
    """Answer in the language the link was asked in, unless the visitor chose one here."""
    if language in LANGUAGES and "lang" not in request.query_params and LANG_COOKIE not in request.cookies:
        i18n.current_language.set(language)


class PrivacyController(Controller):
    path = "/privacy"
    include_in_schema = False
    middleware = [PER_CLIENT.middleware]

    @get("/", name="privacy")
    async def ask(self) -> Template:
        """The form: an email address, and a mail with a link follows."""
        return _ask_page()

    @post("/", name="privacy-request")
    async def request_link(self, request: Request[Any, Any, Any], data: URLEncodedBody[AskForm]) -> Template:
        """The same page for a known and an unknown address; only a known one gets a mail."""
        values = msgspec.structs.asdict(data)
        age = stamp_age(FORM_ID, data.stamp)
        if data.website or age is None or age < MIN_FILL_SECONDS:
            return _ask_page(values, localise(N_("That was quick! Please check the form and send it again.")), 422)
        language = data.language if data.language in LANGUAGES else i18n.current_language.get()
        try:
            await privacy.request_link(data.email, language)
        except DomainError as exc:
            if exc.status_code >= 500:
                raise
            return _ask_page(values, localise(exc.message, **exc.params), exc.status_code)
        return Template("public/privacy_sent.html", context={}, status_code=200, headers=PRIVATE)

    @get("/{token:str}", name="privacy-link")
    async def link(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        """What the link offers: download, or erase after a confirmation."""
        _speak(request, await privacy.peek_language(token))
        view = await privacy.by_token(token)
        return Template("public/privacy_link.html", context={"view": view, "token": token}, headers=PRIVATE)

    @get("/{token:str}/data.json", name="privacy-data")
    async def data(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
        """Everything held for the address, as a JSON file (reading only: a GET is fine)."""
        _speak(request, await privacy.peek_language(token))
        body = await privacy.export_by_token(token)
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="trefpunt-my-data.json"',
                "Cache-Control": "no-store",
                "X-Robots-Tag": "noindex",
            },
        )

    @post("/{token:str}/erase", name="privacy-erase")
    async def erase(
        self, request: Request[Any, Any, Any], token: FromPath[str], data: URLEncodedBody[EraseForm]
    ) -> Template:
        """Erase after the box was ticked; the page says what happened."""
        _speak(request, await privacy.peek_language(token))
        view = await privacy.by_token(token)
        if data.confirm != "yes":
            error = localise(N_("Tick the box to confirm that your data should be erased."))
            return Template(
                "public/privacy_link.html",
                context={"view": view, "token": token, "form_error": error},
                status_code=422,
                headers=PRIVATE,
            )
        result = await privacy.erase_by_token(token)
        return Template("public/privacy_erased.html", context={"result": result}, status_code=200, headers=PRIVATE)
