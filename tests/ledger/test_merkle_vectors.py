"""RFC 9162 tree hashing and proofs against the RFC 6962 test vectors published with Trillian.

Source: github.com/google/trillian, merkle/testonly (reference_test vectors, "LeafInputs",
"RootHashes", inclusion and consistency proofs), which reproduce the vectors of RFC 6962 §2.1
implementations (Certificate Transparency); RFC 9162 keeps the same hashing.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendshield.ledger import merkle as m

LEAVES = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
HASHES = [m.leaf_hash(x) for x in LEAVES]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.mark.parametrize("size", range(9))
def test_roots(size: int) -> None:
    assert m.root_of(HASHES[:size]).hex() == ROOTS[size]
    if size:
        assert m.subtree_hash(0, size, m.list_node_fn(HASHES[:size])).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    got = m.inclusion_proof(index, size, m.list_node_fn(HASHES[:size]))
    assert [h.hex() for h in got] == proof
    m.verify_inclusion(index, size, HASHES[index], got, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, proof: list[str]) -> None:
    got = m.consistency_proof(first, second, m.list_node_fn(HASHES[:second]))
    assert [h.hex() for h in got] == proof
    m.verify_consistency(first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), got)


def _leaves(n: int) -> list[bytes]:
    return [m.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, 255))))
def test_every_inclusion_proof_verifies_and_bit_flips_fail(case: tuple[int, int, int]) -> None:
    n, i, bit = case
    leaves = _leaves(n)
    root = m.root_of(leaves)
    proof = m.inclusion_proof(i, n, m.list_node_fn(leaves))
    m.verify_inclusion(i, n, leaves[i], proof, root)
    with pytest.raises(m.ProofError):
        m.verify_inclusion(i, n, _flip(leaves[i], bit), proof, root)
    with pytest.raises(m.ProofError):
        m.verify_inclusion(i, n, leaves[i], proof, _flip(root, bit))
    if proof:
        which = bit % len(proof)
        bad = [*proof[:which], _flip(proof[which], bit), *proof[which + 1 :]]
        with pytest.raises(m.ProofError):
            m.verify_inclusion(i, n, leaves[i], bad, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n), st.integers(0, 255))))
def test_every_consistency_proof_verifies_and_bit_flips_fail(case: tuple[int, int, int]) -> None:
    first, second, bit = case
    leaves = _leaves(second)
    r1, r2 = m.root_of(leaves[:first]), m.root_of(leaves)
    proof = m.consistency_proof(first, second, m.list_node_fn(leaves))
    m.verify_consistency(first, second, r1, r2, proof)
    with pytest.raises(m.ProofError):
        m.verify_consistency(first, second, _flip(r1, bit), r2, proof)
    with pytest.raises(m.ProofError):
        m.verify_consistency(first, second, r1, _flip(r2, bit), proof)
    if proof:
        which = bit % len(proof)
        bad = [*proof[:which], _flip(proof[which], bit), *proof[which + 1 :]]
        with pytest.raises(m.ProofError):
            m.verify_consistency(first, second, r1, r2, bad)


def test_malformed_proofs_are_rejected() -> None:
    with pytest.raises(m.ProofError, match="outside"):
        m.verify_inclusion(5, 5, HASHES[0], [], bytes(32))
    with pytest.raises(m.ProofError, match="bytes"):
        m.verify_inclusion(0, 2, HASHES[0], [b"short"], bytes(32))
    with pytest.raises(m.ProofError, match="shorter"):
        m.verify_inclusion(0, 8, HASHES[0], [HASHES[1]], bytes(32))
