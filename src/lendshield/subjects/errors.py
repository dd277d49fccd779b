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
