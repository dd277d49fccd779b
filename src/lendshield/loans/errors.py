"""Loan errors."""

from __future__ import annotations

from lendshield.errors import Conflict, NotFound


class LoanNotFound(NotFound):
    code = "loan-not-found"

    def __init__(self) -> None:
        super().__init__("no such loan; upsert it first (PUT /v1/loans/{id})")


class EventKeyReused(Conflict):
    code = "event-key-reused"

    def __init__(self) -> None:
        super().__init__("this idempotency key was already used for a different event")
