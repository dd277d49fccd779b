"""The fast canonical-JSON path gives exactly RFC 8785's bytes wherever it is taken."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from lendshield.ledger.entry import _plain, canonical

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60) | st.text(max_size=20)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_canonical_equals_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeEncodeError):
        return  # not representable (lone surrogates, integers beyond 2**53 ...); RFC 8785 refuses them
    assert canonical(value) == expected


def test_plain_detection() -> None:
    assert _plain({"a": [1, "x", None, True]})
    assert not _plain({"a": 1.5})
    assert not _plain({"é": 1})
    assert not _plain(2**53)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30), st.integers(min_value=0, max_value=2**40), st.none() | st.text(max_size=30))
def test_entry_bodies_are_rfc8785(actor: str, action: str, seq: int, reason: str | None) -> None:
    from datetime import UTC, datetime

    from lendshield.ledger.entry import Entry, canonical_body

    body = Entry(time=datetime(2026, 11, 23, tzinfo=UTC), actor=actor, action=action, reason=reason, details={"k": [1, "v"]}).body(seq)
    try:
        expected = rfc8785.dumps(body)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeEncodeError):
        return
    assert canonical_body(body) == expected


optional_text = st.none() | st.text(max_size=24)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=30),
    st.text(max_size=30),
    st.text(max_size=30),
    st.integers(min_value=0, max_value=2**54),
    optional_text,
    optional_text,
    optional_text,
    optional_text,
    optional_text,
    st.booleans(),
)
def test_entry_canonical_is_the_canonical_body(
    actor: str,
    action: str,
    obj: str,
    seq: int,
    subject_ref: str | None,
    purpose: str | None,
    decision: str | None,
    rule_id: str | None,
    reason: str | None,
    shared_details: bool,
) -> None:
    """``Entry.canonical`` (written out directly) gives the bytes of ``canonical_body(body)``,
    with details given as a plain dict or as precomputed ``Details``."""
    from datetime import UTC, datetime

    from lendshield.ledger.entry import Details, Entry, canonical_body

    raw = {"decisions": {"name": ["mask", "r1"], "mobile": ["deny", "purpose-scope:x"]}}
    entry = Entry(
        time=datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC),
        actor=actor,
        action=action,
        object=obj,
        subject_ref=subject_ref,
        purpose=purpose,
        decision=decision,
        rule_id=rule_id,
        reason=reason,
        details=Details(raw) if shared_details else raw,
    )
    try:
        expected = canonical_body(entry.body(seq))
    except (UnicodeEncodeError, rfc8785.CanonicalizationError) as exc:  # a lone surrogate, seq >= 2**53: both refuse
        with pytest.raises(type(exc)):
            entry.canonical(seq)
        return
    assert entry.canonical(seq) == expected


def test_details_carry_the_digest_of_their_content() -> None:
    from lendshield.ledger.entry import Details, digest_of

    raw = {"decisions": {"name": ["mask", "r1"]}}
    assert Details(raw).digest == digest_of(raw)
    assert Details(raw) == raw
