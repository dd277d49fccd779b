"""The fast canonical-JSON path gives exactly RFC 8785's bytes wherever it is taken."""

from __future__ import annotations

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
