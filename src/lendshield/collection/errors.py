"""Errors of the collection guard."""

from __future__ import annotations

from datetime import datetime

from lendshield.errors import BadRequest, Conflict, Forbidden, NotFound, RecordedRefusal


class ContactBlocked(RecordedRefusal):
    """A contact the rules refuse; the blocked attempt and its ledger entry are kept."""

    code = "contact-blocked"

    def __init__(self, rule_id: str, reason: str, contact_id: str, next_allowed_at: datetime | None) -> None:
        extra: dict[str, object] = {"rule_id": rule_id, "contact_id": contact_id}
        if next_allowed_at is not None:
            extra["next_allowed_at"] = next_allowed_at.isoformat()
        super().__init__(f"contact refused by rule {rule_id}: {reason}", **extra)
        self.rule_id = rule_id


class MessageScreened(RecordedRefusal):
    """A message that breaks a screening rule; nothing was sent."""

    code = "message-screened"

    def __init__(self, contact_id: str, hits: list[dict[str, object]]) -> None:
        rules = sorted({str(h["rule_id"]) for h in hits})
        super().__init__(f"message refused by screening rule(s) {', '.join(rules)}; nothing was sent", contact_id=contact_id, hits=hits)


class NotCollector(Forbidden):
    code = "not-collector"


class ContactNotFound(NotFound):
    code = "contact-not-found"

    def __init__(self) -> None:
        super().__init__("no such contact record")


class ComplaintNotFound(NotFound):
    code = "complaint-not-found"

    def __init__(self) -> None:
        super().__init__("no such complaint")


class CallbackRefused(Forbidden):
    code = "callback-refused"


class OutcomeConflict(Conflict):
    code = "outcome-conflict"


class RecordingInvalid(BadRequest):
    code = "recording-invalid"
