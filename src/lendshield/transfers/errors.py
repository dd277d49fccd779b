"""Errors of the transfers domain (mapped to problem+json once, in ``web/problem.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from lendshield.errors import BadRequest, Conflict, InvalidInput, NotFound, RecordedRefusal


class RecipientNotFound(NotFound):
    code = "recipient-not-found"

    def __init__(self) -> None:
        super().__init__("no such recipient")


class ExportNotFound(NotFound):
    code = "export-not-found"

    def __init__(self) -> None:
        super().__init__("no such export")


class RecipientInvalid(InvalidInput):
    code = "recipient-invalid"


class RecipientRetired(Conflict):
    code = "recipient-retired"

    def __init__(self) -> None:
        super().__init__("the recipient was retired from the registry")


class UnreadableFile(BadRequest):
    code = "unreadable-file"


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One condition of the provision gate that failed, and for how many of the people asked for."""

    condition: str
    people: int
    detail: str


class ProvisionBlocked(RecordedRefusal):
    """The gate refused: nothing left, and the refusal stays in the ledger (the unit of work keeps it)."""

    code = "provision-blocked"

    def __init__(self, failures: Sequence[GateFailure], what: str = "provision") -> None:
        summary = "; ".join(f"{f.condition} ({f.people} {'person' if f.people == 1 else 'people'}): {f.detail}" for f in failures)
        super().__init__(f"{what} blocked: {summary}", failures=[asdict(f) for f in failures])
        self.failures = list(failures)
