"""Settings read once from the environment (and an optional `.env` file).

A frozen dataclass, as in litestar-fullstack: tests set the environment before importing the
app, and nothing else reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES: tuple[str, ...] = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "nl"
DEFAULT_TIMEZONE = "Europe/Brussels"


def _var_dir() -> Path:
    return Path(os.environ.get("TREFPUNT_VAR_DIR", "var"))


def _secret_key(var_dir: Path) -> str:
    """Return SECRET_KEY, generating it into var/secret_key on first run."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _flag(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _mail_domain(host: str) -> str:
    """A domain for the sender address: the public host, unless it is an IP or a bare name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host if "." in host else "localhost"
    return "localhost"


@dataclass(frozen=True)
class Settings:
    database_url: str
    base_url: str
    secret_key: str
    var_dir: Path
    smtp_url: str | None = None
    redis_url: str | None = None
    rate_limit: bool = True
    worker: str = "inline"
    db_pool: bool = True
    debug: bool = False
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = 1_048_576
    mail_from: str = "trefpunt@localhost"
    smtp_timeout: float = 30.0
    # Webhooks may be sent to loopback and private networks (tests, an intranet receiver).
    webhook_allow_private: bool = False

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"


def load_settings() -> Settings:
    load_dotenv(".env", override=False)
    var_dir = _var_dir()
    database_url = os.environ.get("DATABASE_URL", f"sqlite:///{var_dir / 'trefpunt.sqlite3'}")
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise SystemExit("DATABASE_URL must start with sqlite:/// or postgresql://")
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    base_host = urlsplit(base_url).hostname or "127.0.0.1"
    extra_hosts = [h.strip() for h in os.environ.get("TREFPUNT_ALLOWED_HOSTS", "").split(",") if h.strip()]
    allowed = tuple(dict.fromkeys([base_host, "127.0.0.1", "localhost", *extra_hosts]))
    return Settings(
        database_url=database_url,
        base_url=base_url,
        secret_key=_secret_key(var_dir),
        var_dir=var_dir,
        smtp_url=os.environ.get("SMTP_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        rate_limit=_flag("TREFPUNT_RATE_LIMIT", "on", ("on", "off")) == "on",
        worker=_flag("TREFPUNT_WORKER", "inline", ("inline", "off")),
        db_pool=_flag("TREFPUNT_DB_POOL", "on", ("on", "off")) == "on",
        debug=_flag("TREFPUNT_DEBUG", "off", ("on", "off")) == "on",
        allowed_hosts=allowed,
        mail_from=os.environ.get("MAIL_FROM") or f"trefpunt@{_mail_domain(base_host)}",
        smtp_timeout=float(os.environ.get("SMTP_TIMEOUT", "30")),
        webhook_allow_private=_flag("TREFPUNT_WEBHOOK_ALLOW_PRIVATE", "off", ("on", "off")) == "on",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
