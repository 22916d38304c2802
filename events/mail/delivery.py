"""Delivery: SMTP with aiosmtplib (one connection per batch), or files under var/mail/.

Every failure is classified: transient ones (4xx, connection errors, timeouts) are retried by
the worker; permanent ones (5xx, authentication) are not.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib


class DeliveryError(Exception):
    """Why a message was not delivered; `connection` when no message could get through."""

    def __init__(self, reason: str, *, permanent: bool, connection: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection = connection


class Transport(Protocol):
    async def send(self, message: EmailMessage, recipient: str) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    timeout: float


def parse_smtp_url(url: str, timeout: float = 30.0) -> SmtpConfig:
    """`smtp://host:25`, `smtp+starttls://user:pass@host:587`, `smtps://user:pass@host:465`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://host:25, smtp+starttls://… or smtps://…")
    default_port = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[scheme]
    return SmtpConfig(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=scheme == "smtps",
        start_tls=scheme == "smtp+starttls",
        timeout=timeout,
    )


def _classify(exc: BaseException) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        reason = "; ".join(f"{error.recipient}: {error.code} {error.message}" for error in exc.recipients)
        return DeliveryError(reason[:1000], permanent=all(code >= 500 for code in codes))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(f"authentication failed: {exc.code} {exc.message}"[:1000], permanent=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return DeliveryError(f"{exc.code} {exc.message}"[:1000], permanent=500 <= exc.code < 600)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return DeliveryError("timeout talking to the mail server", permanent=False, connection=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # e.g. a non-ASCII mailbox and a server without SMTPUTF8: this message only.
        return DeliveryError(f"not supported by the mail server: {exc}"[:1000], permanent=True)
    connection = isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | OSError)
    return DeliveryError(f"{type(exc).__name__}: {exc}"[:1000], permanent=False, connection=connection)


def ascii_domain(address: str) -> str:
    """`jan@bücher.example` → `jan@xn--bcher-kva.example`: any server can route it."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}" if not domain.isascii() else address
    except UnicodeError:
        return address


class SmtpTransport:
    """One SMTP connection reused for a batch; reconnects once when the server dropped it."""

    def __init__(self, config: SmtpConfig, sender: str) -> None:
        self.config = config
        self.sender = sender
        self._client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.hostname,
            port=config.port,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
            tls_context=ssl.create_default_context() if (config.use_tls or config.start_tls) else None,
        )
        await client.connect()
        if config.username and config.password:
            await client.login(config.username, config.password)
        return client

    async def send(self, message: EmailMessage, recipient: str) -> None:
        recipient = ascii_domain(recipient)
        for attempt in (1, 2):
            try:
                if self._client is None or not self._client.is_connected:
                    self._client = await self._connect()
                await self._client.send_message(message, sender=self.sender, recipients=[recipient])
                return
            except ValueError as exc:  # aiosmtplib refuses addresses SMTP cannot carry
                raise DeliveryError(f"invalid address: {exc}"[:1000], permanent=True) from exc
            except aiosmtplib.SMTPServerDisconnected as exc:
                await self.close()
                if attempt == 2:
                    raise _classify(exc) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = _classify(exc)
                # A refused recipient or a 4xx/5xx answer leaves the session usable (aiosmtplib
                # resets it); anything else means the connection is gone.
                if error.connection:
                    await self.close()
                raise error from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class FileTransport:
    """Writes each message as an .eml file, so a newcomer sees what participants get."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, recipient: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = _SAFE_NAME.sub("_", str(message["Message-ID"]).strip("<>"))
        target = self.directory / f"{name}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, target)

    async def close(self) -> None:
        return None
