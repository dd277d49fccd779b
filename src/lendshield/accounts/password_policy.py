"""Password rules for staff and borrowers.

The seed asks for passwords of at least 8 characters mixing letters, digits and symbols, and never
built from the person's own data (避免利用与个人信息相关的密码). Staff need 12. A zxcvbn score of
at least 3 keeps out common and pattern-built passwords that pass the class rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from zxcvbn import zxcvbn


@dataclass(frozen=True, slots=True)
class PersonalData:
    """What we know about the account holder, to keep it out of their password."""

    name: str | None = None
    birth_date: date | None = None
    phone: str | None = None
    resident_id: str | None = None
    extra: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PasswordRules:
    min_length: int
    min_classes: int = 3
    min_score: int = 3
    max_length: int = 128


STAFF_RULES = PasswordRules(min_length=12)
BORROWER_RULES = PasswordRules(min_length=8)


@dataclass(frozen=True, slots=True)
class PasswordVerdict:
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _classes(password: str) -> int:
    checks = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(checks)


def _fragments(person: PersonalData) -> set[str]:
    """Pieces of personal data a password must not contain (4+ characters, or a whole short name)."""
    frags: set[str] = set()
    if person.birth_date:
        d = person.birth_date
        frags |= {f"{d:%Y%m%d}", f"{d:%y%m%d}", f"{d:%m%d}{d:%Y}", f"{d:%d%m%Y}", f"{d:%Y}-{d:%m}-{d:%d}", f"{d:%m%d}"}
    if person.phone:
        digits = re.sub(r"\D", "", person.phone)
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) >= 8:
            frags |= {digits, digits[-4:], digits[-6:], digits[:7]}
    if person.resident_id:
        rid = person.resident_id.upper()
        frags |= {rid[-4:], rid[-6:], rid[:6], rid[6:14]}
    if person.name:
        frags.add(person.name.lower().replace(" ", ""))
    frags |= {e.lower() for e in person.extra if len(e) >= 3}
    return {f.lower() for f in frags if f}


def check_password(password: str, rules: PasswordRules, person: PersonalData | None = None) -> PasswordVerdict:
    """Every problem at once, so the person can fix them in one go. Never echoes the password."""
    problems: list[str] = []
    normalised = unicodedata.normalize("NFKC", password)
    # Count what the person typed: NFKC may expand one character (¼ -> 1⁄4) into several.
    if min(len(password), len(normalised)) < rules.min_length:
        problems.append(f"at least {rules.min_length} characters")
    if len(normalised) > rules.max_length:
        problems.append(f"at most {rules.max_length} characters")
    if _classes(normalised) < rules.min_classes:
        problems.append(f"at least {rules.min_classes} of: lower-case, upper-case, digits, symbols")
    person = person or PersonalData()
    lowered = normalised.lower()
    if any(frag in lowered for frag in _fragments(person)):
        problems.append("must not contain your birth date, phone number, ID number or name")
    inputs: Iterable[str] = [s for s in (person.name, person.phone, person.resident_id, *person.extra) if s]
    if normalised and len(normalised) <= rules.max_length and zxcvbn(normalised[:100], user_inputs=list(inputs))["score"] < rules.min_score:
        problems.append("too easy to guess (common words, keyboard patterns or repeats)")
    return PasswordVerdict(problems)
