"""The one error tree. Domain packages subclass these; `web` maps them to problem+json once."""

from __future__ import annotations

from typing import Any


class LendShieldError(Exception):
    """Base of every error LendShield raises on purpose.

    ``status`` is the HTTP status the web edge answers with; ``code`` a stable machine-readable
    slug; the message must never contain personal data or secrets.
    """

    status: int = 400
    code: str = "error"
    title: str = "Request failed"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(LendShieldError):
    status = 422
    code = "invalid-input"
    title = "Invalid input"


class BadRequest(LendShieldError):
    status = 400
    code = "bad-request"
    title = "Bad request"


class Unauthenticated(LendShieldError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(LendShieldError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(LendShieldError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(LendShieldError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Gone(LendShieldError):
    status = 410
    code = "gone"
    title = "Gone"


class PayloadTooLarge(LendShieldError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class TooManyRequests(LendShieldError):
    status = 429
    code = "too-many-requests"
    title = "Too many requests"


class ConfigurationError(LendShieldError):
    status = 500
    code = "configuration"
    title = "Configuration error"


class RecordedRefusal(Forbidden):
    """A refusal whose ledger entry must survive: the unit of work commits before answering.

    Used where the law or the design wants denials logged too (a denied read of a person's data).
    """

    code = "refused"
    keep_effects = True
