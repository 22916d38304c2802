"""create_app(): wiring only — routes, middleware, stores, templates, error handlers, lifespan."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.plugins.jinja import JinjaTemplateEngine as PluginJinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry
from litestar.template.config import TemplateConfig

from events import __version__
from events.db import close_pool, open_pool
from events.mail.worker import run_worker
from events.settings import Settings, get_settings
from events.web.admin import AdminController, LoginController
from events.web.admin_consents import AdminConsentController
from events.web.admin_event_parts import AdminEventPartsController
from events.web.admin_events import AdminEventFormController
from events.web.admin_people import AdminPeopleController
from events.web.admin_privacy import AdminPrivacyController
from events.web.admin_series import AdminSeriesController
from events.web.admin_stats import AdminStatisticsController
from events.web.admin_team import AdminTeamController, InvitationController
from events.web.admin_webhooks import AdminWebhookController
from events.web.api import EventApiController
from events.web.api_consultations import ConsultationApiController, advisor_feed
from events.web.api_networking import NetworkingApiController
from events.web.api_registrations import RegistrationApiController
from events.web.auth import SESSION_COOKIE, SessionConfig
from events.web.cache import STORE_NAME as PAGE_STORE
from events.web.cache import BoundedMemoryStore
from events.web.devmail import DevMailController
from events.web.errors import EXCEPTION_HANDLERS
from events.web.feeds import FEED_HANDLERS
from events.web.health import health
from events.web.middleware import language_middleware, path_id_range_middleware
from events.web.openapi_docs import openapi_config
from events.web.participant import (
    BookingFormController,
    PrivatePageController,
    RegistrationFormController,
    personal_feed,
)
from events.web.privacy import PrivacyController
from events.web.public import PublicController
from events.web.security import cross_site_guard_middleware, security_headers_middleware, token_guess_middleware
from events.web.templating import make_environment

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Paths that never need a session or a CSRF cookie: feeds, the API, health, static files.
STATELESS_PATHS = [r"^/api/", r"\.ics$", r"^/health$", r"^/static/", r"^/schema"]


def _store_registry(settings: Settings) -> StoreRegistry:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(url=settings.redis_url, namespace="trefpunt")
        return StoreRegistry(default_factory=root.with_namespace)
    # Sessions in files so that `trefpunt serve --workers N` shares them without Redis.
    # FileStore.set() creates only the last directory of its path (create_directories works in
    # `async with` only): without this, a var directory that does not exist yet (SECRET_KEY set,
    # PostgreSQL) makes the first sign-in page a 500.
    (settings.var_dir / "sessions").mkdir(parents=True, exist_ok=True)
    sessions = FileStore(settings.var_dir / "sessions", create_directories=True)

    def factory(name: str) -> Store:
        if name == PAGE_STORE:  # cached public pages and feeds: bounded in size
            return BoundedMemoryStore()
        return sessions if name == "sessions" else MemoryStore()

    return StoreRegistry(default_factory=factory)


REGISTRATION_POST = re.compile(r"^/(?:api/v1/)?events/\d+/regist(?:er|rations)$")


def _is_registration(request: Request[Any, Any, Any]) -> bool:
    return request.method == "POST" and bool(REGISTRATION_POST.match(request.url.path))


def registration_rate_limits() -> list[Any]:
    """Per client address (30 a minute, which also bounds "resend my link") and per event
    (600 a minute across all clients): a bot cannot flood an event or a mailbox."""
    # Each limit counts under its own key: Litestar keys every RateLimitConfig by the bare address,
    # so without a prefix sign-in attempts and registrations would eat one shared budget.
    per_client = RateLimitConfig(
        rate_limit=("minute", 30),
        store="rate_limit",
        check_throttle_handler=_is_registration,
        identifier_for_request=lambda request: "register:" + get_remote_address(request),
    )
    per_event = RateLimitConfig(
        rate_limit=("minute", 600),
        store="rate_limit",
        check_throttle_handler=_is_registration,
        identifier_for_request=lambda request: "event:" + request.url.path,
    )
    return [per_client.middleware, per_event.middleware]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    logging.getLogger("trefpunt").setLevel(logging.INFO)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.db_pool:
            await open_pool()
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(stop)) if settings.worker == "inline" else None
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                try:
                    await asyncio.wait_for(worker, timeout=10)
                except TimeoutError:
                    worker.cancel()
            if settings.db_pool:
                await close_pool()

    session_config = SessionConfig(
        key=SESSION_COOKIE,
        store="sessions",
        max_age=8 * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )
    csrf_config = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="trefpunt_csrf",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
        exclude=STATELESS_PATHS,
    )
    organiser_middleware: list[Any] = [session_config.middleware]
    if settings.rate_limit:
        # Password guessing: 20 sign-in attempts a minute per client address.
        organiser_middleware.append(
            RateLimitConfig(
                rate_limit=("minute", 20),
                store="rate_limit",
                identifier_for_request=lambda request: "sign-in:" + get_remote_address(request),
                # Accepting an invitation with an existing account also checks a password.
                check_throttle_handler=lambda request: (
                    request.method == "POST"
                    and (request.url.path == "/login" or request.url.path.startswith("/invitations/"))
                ),
            ).middleware
        )
    app_middleware: list[Any] = [
        security_headers_middleware,
        language_middleware,
        path_id_range_middleware,
        cross_site_guard_middleware,
        token_guess_middleware,
    ]
    if settings.rate_limit:
        app_middleware += registration_rate_limits()
    return Litestar(
        route_handlers=[
            PublicController,
            # Only the organiser pages carry a session: public pages and feeds stay cookie-free.
            Router(
                path="/",
                route_handlers=[
                    LoginController,
                    AdminController,
                    AdminEventFormController,
                    AdminEventPartsController,
                    AdminSeriesController,
                    AdminPeopleController,
                    AdminStatisticsController,
                    AdminTeamController,
                    AdminPrivacyController,
                    AdminWebhookController,
                    AdminConsentController,
                    InvitationController,
                    DevMailController,
                ],
                middleware=organiser_middleware,
            ),
            EventApiController,
            RegistrationApiController,
            ConsultationApiController,
            NetworkingApiController,
            advisor_feed,
            RegistrationFormController,
            BookingFormController,
            PrivatePageController,
            PrivacyController,
            personal_feed,
            health,
            *FEED_HANDLERS,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], include_in_schema=False, opt={"skip_session": True}
            ),
        ],
        middleware=app_middleware,
        csrf_config=csrf_config,
        template_config=TemplateConfig(engine=PluginJinjaTemplateEngine.from_environment(make_environment())),
        openapi_config=openapi_config(__version__),
        exception_handlers=EXCEPTION_HANDLERS,
        stores=_store_registry(settings),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        debug=settings.debug,
    )
