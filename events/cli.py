"""The `trefpunt` command (DESIGN.md, "Command line")."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from events.services.errors import DomainError

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Trefpunt: events and networking sessions for business-support organisations."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="App processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app (and, with TREFPUNT_WORKER=inline, the mail worker)."""
    import uvicorn

    from events.settings import get_settings

    settings = get_settings()
    trusted = os.environ.get("TREFPUNT_TRUSTED_PROXIES", "")
    click.echo(f"Trefpunt on http://{host}:{port} (public URL {settings.base_url}), {workers} process(es)")
    uvicorn.run(
        "events.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Never trust X-Forwarded-For unless a proxy is named: a spoofed header must not
        # change the client address that rate limits count.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        # Access logs would record private tokens that live in URL paths (/r/…, /me/…).
        access_log=False,
        server_header=False,
        log_level="info",
    )


@main.command()
def worker() -> None:
    """Run the background worker as its own process (use with TREFPUNT_WORKER=off on the app)."""

    import logging

    from events.db import close_pool, open_pool
    from events.mail.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await open_pool()
        try:
            await run_worker(stop)
        finally:
            await close_pool()

    asyncio.run(run())


@main.command()
def migrate() -> None:
    """Apply database migrations (same as `piccolo migrations forwards events`)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from events.db import enable_sqlite_wal
    from events.settings import get_settings

    settings = get_settings()
    result = asyncio.run(run_forwards(app_name="events", migration_id="all", fake=False))
    if not result.success:
        raise click.ClickException(result.message or "migration failed")
    if not settings.is_postgres:
        enable_sqlite_wal(str(settings.sqlite_path))
    click.echo("Database is up to date.")


@main.command()
@click.option("--if-empty", is_flag=True, help="Only when the database has no organisation yet.")
def demo(if_empty: bool) -> None:
    """Load demo organisations, organisers and events."""
    from events.services.demo import load_demo

    loaded = _run(load_demo(if_empty=if_empty))
    if loaded:
        click.echo("Demo data loaded. Sign in at /login as demo@depunt.example with password trefpunt-demo.")
    else:
        click.echo("Database already has data; demo not loaded.")


@main.command("create-organisation")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--email", required=True, help="Address that sends invites (ORGANIZER).")
@click.option("--timezone", default="Europe/Brussels", show_default=True)
@click.option("--address", default="", help="Postal address, shown in the footer of its mails.")
def create_organisation(slug: str, name: str, email: str, timezone: str, address: str) -> None:
    """Create a partner organisation."""
    from events.services.organisers import create_organisation as create

    _run(create(slug, name, email, timezone=timezone, address=address))
    click.echo(f"Organisation {slug} created.")


@main.command("create-organiser")
@click.argument("email")
@click.option("--organisation", "organisation_slug", required=True)
@click.option("--role", type=click.Choice(["owner", "editor", "viewer"]), default="owner", show_default=True)
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_organiser(email: str, organisation_slug: str, role: str, name: str, password_stdin: bool) -> None:
    """Create an organiser account (or add a role to an existing one)."""
    from events.services.organisers import create_organiser as create

    if password_stdin:
        password: str | None = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = None
    _run(create(email, organisation_slug, role=role, password=password or None, name=name))
    click.echo(f"Organiser {email} is {role} of {organisation_slug}.")


@main.command("api-token")
@click.option("--organisation", "organisation_slug", required=True)
@click.option("--role", type=click.Choice(["owner", "editor", "viewer"]), default="editor", show_default=True)
@click.option("--name", default="")
def api_token(organisation_slug: str, role: str, name: str) -> None:
    """Print a new API token once, alone on the last line."""
    from events.services.organisers import create_api_token

    token = _run(create_api_token(organisation_slug, role=role, name=name))
    click.echo(f"New {role} token for {organisation_slug} (shown once; store it safely):")
    click.echo(token)


@main.command()
@click.option("--now", "now_text", default="", help="Act as if it were this moment (ISO 8601 with offset).")
def retention(now_text: str) -> None:
    """Anonymise the registrations of events whose retention period is over (the worker does
    this daily)."""
    from datetime import UTC, datetime

    from events.services.retention import run_retention

    now = datetime.now(UTC)
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(
                "give an ISO 8601 moment, e.g. 2027-01-31T03:00:00+00:00", param_hint="--now"
            ) from None
        if now.tzinfo is None:
            raise click.BadParameter("give the moment with its offset, e.g. +00:00", param_hint="--now")
    counts = _run(run_retention(now))
    click.echo(
        f"{counts.registrations} registrations of {counts.events} events anonymised, "
        f"{counts.privacy_requests} privacy requests cleared."
    )


if __name__ == "__main__":  # pragma: no cover
    main()
