"""What each request type needs when it is filed, checked before anything is written.

``params`` are non-personal choices (a ground, purpose names, a field name, a decision id) and
go to the ledger; anything the person writes is passed as ``text``/``new_value`` and sealed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from lendshield.errors import InvalidInput
from lendshield.rights.models import AutomatedDecisionRow
from lendshield.runtime import Runtime

# PIPL Art. 47 (1)-(5) and 网络数据安全管理条例 Art. 24 (account cancelled).
DELETION_GROUNDS: dict[str, str] = {
    "purpose_achieved": "PIPL Art. 47(1): the purpose of processing has been achieved",
    "purpose_impossible": "PIPL Art. 47(1): the purpose cannot be achieved",
    "purpose_unneeded": "PIPL Art. 47(1): the data is no longer needed for the purpose",
    "service_ended": "PIPL Art. 47(2): the processor stopped providing the product or service",
    "retention_expired": "PIPL Art. 47(2): the retention period has expired",
    "consent_withdrawn": "PIPL Art. 47(3): the person withdrew consent",
    "unlawful_processing": "PIPL Art. 47(4): processing violated laws, regulations or the agreement",
    "other_law": "PIPL Art. 47(5): another circumstance provided by laws or regulations",
    "account_cancelled": "网络数据安全管理条例 Art. 24: the person cancelled their account",
}
REPORT_CATEGORIES = ("suspected_leak", "abuse", "collection_conduct", "other")
MAX_TEXT = 4000


def invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", path=path)


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(params) - allowed)
    if extra:
        raise invalid(f"params.{extra[0]}", "not a parameter of this request type")


def _text(text: str | None, required: bool, what: str) -> None:
    if text is None or not text.strip():
        if required:
            raise invalid("text", f"{what} is required")
        return
    if len(text) > MAX_TEXT:
        raise invalid("text", f"at most {MAX_TEXT} characters")


def check(
    session: Session,
    rt: Runtime,
    request_type: str,
    subject_id: str,
    params: dict[str, Any],
    text: str | None,
    new_value: str | None,
) -> dict[str, Any]:
    """The cleaned parameters for ``request_type``; raises InvalidInput naming the first problem."""
    if new_value is not None and request_type != "correction":
        raise invalid("new_value", "only a correction carries a new value")
    if request_type in ("access", "portability"):
        _only(params, {"lang"})
        lang = params.get("lang", "zh")
        if lang not in ("zh", "en"):
            raise invalid("params.lang", "must be zh or en")
        _text(text, False, "a note")
        return {"lang": lang}
    if request_type == "correction":
        _only(params, {"field"})
        name = params.get("field")
        if not isinstance(name, str) or name not in rt.catalog.fields:
            raise invalid("params.field", "must name a field of the catalog")
        if new_value is None:
            raise invalid("new_value", "a correction needs the correct value")
        rt.catalog.field(name).validate(new_value, "new_value")
        _text(text, True, "evidence for the correction")
        return {"field": name}
    if request_type == "deletion":
        _only(params, {"ground"})
        ground = params.get("ground")
        if ground not in DELETION_GROUNDS:
            raise invalid("params.ground", f"must be one of {', '.join(DELETION_GROUNDS)} (PIPL Art. 47)")
        _text(text, False, "an explanation")
        return {"ground": ground}
    if request_type == "withdrawal":
        _only(params, {"purposes"})
        purposes = params.get("purposes")
        if not isinstance(purposes, list) or not purposes or not all(isinstance(p, str) for p in purposes):
            raise invalid("params.purposes", "a non-empty list of purpose names")
        for p in purposes:
            spec = rt.policy.purposes.get(p)
            if spec is None:
                raise invalid("params.purposes", f"unknown purpose '{p}'" if p.isidentifier() else "unknown purpose")
            if not spec.needs_consent:
                # PIPL Art. 13: only processing based on consent can be withdrawn.
                raise invalid("params.purposes", f"'{p}' rests on {spec.legal_basis}, not consent: it cannot be withdrawn")
        return {"purposes": sorted(set(purposes))}
    if request_type == "restriction":
        _only(params, {"ends_on"})
        ends = params.get("ends_on")
        if ends is not None:
            try:
                day = dt.date.fromisoformat(str(ends))
            except ValueError as exc:
                raise invalid("params.ends_on", "must be a date YYYY-MM-DD") from exc
            if day <= rt.clock.now().date():
                raise invalid("params.ends_on", "must be in the future")
            ends = day.isoformat()
        _text(text, True, "the reason for the restriction")
        return {"ends_on": ends} if ends else {}
    if request_type == "explanation":
        _only(params, {"decision_id", "human_review"})
        decision_id = params.get("decision_id")
        row = session.get(AutomatedDecisionRow, decision_id) if isinstance(decision_id, str) and len(decision_id) <= 36 else None
        if row is None or row.subject_id != subject_id:
            raise invalid("params.decision_id", "no automated decision about this person has this id")
        review = params.get("human_review", True)
        if not isinstance(review, bool):
            raise invalid("params.human_review", "must be true or false")
        _text(text, False, "a note")
        return {"decision_id": decision_id, "human_review": review}
    # report: a suspected leak or abuse, routed to the protection officer (MISSION R8)
    _only(params, {"category"})
    category = params.get("category", "other")
    if category not in REPORT_CATEGORIES:
        raise invalid("params.category", f"must be one of {', '.join(REPORT_CATEGORIES)}")
    _text(text, True, "a description of what happened")
    return {"category": category}
