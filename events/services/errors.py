"""Domain errors: services raise these; one exception handler maps them to HTTP.

Messages are gettext message ids (marked with `N_`) with `%(name)s` parameters, translated
into the user's language by the handler, not by the service.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


class DomainError(Exception):
    status_code = 422

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None, **params: Any
    ) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.field = field
        self.extra = extra or {}
        self.params = params


class InvalidInput(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404

    def __init__(self, message: str = N_("Not found."), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status_code = 403

    def __init__(self, message: str = N_("Your role does not allow this."), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Unauthenticated(DomainError):
    status_code = 401

    def __init__(self, message: str = N_("Please sign in or send a valid API token."), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Conflict(DomainError):
    status_code = 409


class DatabaseBusy(DomainError):
    status_code = 503

    def __init__(self, message: str = N_("The server is busy. Please try again in a moment."), **kw: Any) -> None:
        super().__init__(message, **kw)
