import re

from lendshield.errors import BadRequest, Gone, NotFound, RecordedRefusal


class SubjectNotFound(NotFound):
    code = "subject-not-found"

    def __init__(self) -> None:
        super().__init__("no such data subject")


class SubjectShredded(Gone):
    code = "subject-shredded"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this subject's data was crypto-shredded: {reason}", shred_reason=reason)


class ReadDenied(RecordedRefusal):
    code = "read-denied"


class ReasonRequired(BadRequest):
    code = "reason-required"

    def __init__(self) -> None:
        super().__init__("clear text needs a stated reason")


class TokenNotFound(NotFound):
    code = "token-not-found"

    def __init__(self) -> None:
        super().__init__("no such token")


class NotIndexed(BadRequest):
    code = "field-not-indexed"


class PurposeRefused(RecordedRefusal):
    """No such purpose (or none given): refused, and the refusal stays in the ledger."""

    status = 400
    code = "unknown-purpose"

    def __init__(self, purpose: str | None) -> None:
        # Only a name is echoed: free text in the header could hold anything.
        shown = purpose if purpose and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", purpose) else ""
        super().__init__(f"no such purpose '{shown}'; see purposes.yaml" if shown else "a known purpose is required", purpose=shown)
