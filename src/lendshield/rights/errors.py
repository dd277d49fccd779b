"""Errors of the rights domain (mapped to problem+json once, in ``web.problem``)."""

from __future__ import annotations

from lendshield.errors import BadRequest, Conflict, Forbidden, NotFound, RecordedRefusal


class RequestNotFound(NotFound):
    code = "rights-request-not-found"

    def __init__(self) -> None:
        super().__init__("no such rights request")


class DecisionNotFound(NotFound):
    code = "automated-decision-not-found"

    def __init__(self) -> None:
        super().__init__("no such automated decision")


class NotYourData(RecordedRefusal):
    """A request about someone else's data; the refusal stays in the ledger."""

    code = "not-your-data"

    def __init__(self) -> None:
        super().__init__("a person may file requests about their own data only")


class VerificationFailed(RecordedRefusal):
    """A wrong, expired, replayed or exhausted code; the attempt is counted and logged."""

    code = "verification-failed"


class WrongState(Conflict):
    code = "rights-request-state"


class RightsForbidden(Forbidden):
    code = "rights-forbidden"


class ReasonMissing(BadRequest):
    code = "reason-required"


class DeletionBlocked(Conflict):
    code = "deletion-blocked"
