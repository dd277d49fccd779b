"""Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency v2), as pure functions.

Nothing here touches a database: callers pass ``node(height, index)``, a function returning the
hash of the *complete* subtree of ``2**height`` leaves starting at leaf ``index * 2**height``.
The tile store (``ledger.tree``) and in-memory lists both provide one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
NodeFn = Callable[[int, int], bytes]

# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof or its inputs are malformed or do not verify; the message says which."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """RFC 9162 §2.1.1: k is the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed bottom-up (same result as the recursive definition)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            # An odd last node is promoted unchanged: it is the root of the smaller right subtree.
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_of_packed(data: bytes) -> bytes:
    """MTH of a power-of-two number of leaf hashes packed end to end (tiles, their groups).

    Same result as ``root_of``; a pair of sibling hashes is already adjacent in ``data``, so each
    node is one SHA-256 over a slice, with no list of hashes built first.
    """
    count = len(data) // HASH_SIZE
    if count == 0 or count & (count - 1) or len(data) % HASH_SIZE:
        raise ProofError("packed hashes must be a power of two of 32-byte hashes")
    sha256 = hashlib.sha256
    pair = 2 * HASH_SIZE
    while len(data) > HASH_SIZE:
        data = b"".join([sha256(b"\x01" + data[i : i + pair]).digest() for i in range(0, len(data), pair)])
    return data


def list_node_fn(leaves: Sequence[bytes]) -> NodeFn:
    """A ``node`` function over an in-memory list of leaf hashes (tests, small trees)."""

    def node(height: int, index: int) -> bytes:
        start = index << height
        return root_of(leaves[start : start + (1 << height)])

    return node


def subtree_hash(start: int, end: int, node: NodeFn) -> bytes:
    """MTH(D[start:end]) for a range whose start is aligned to the largest power of two fitting it.

    Every subtree named in RFC 9162 proofs has that shape; a right-edge subtree is split into
    complete subtrees exactly as §2.1.1 splits it.
    """
    size = end - start
    if size <= 0:
        raise ProofError("empty subtree")
    if size & (size - 1) == 0:
        height = size.bit_length() - 1
        if start % size:
            raise ProofError("unaligned subtree")
        return node(height, start >> height)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def inclusion_proof(index: int, size: int, node: NodeFn) -> list[bytes]:
    """RFC 9162 §2.1.3.1: PATH(m, D[n]), leaf to root order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
            m -= k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, node: NodeFn) -> list[bytes]:
    """RFC 9162 §2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    out: list[bytes] = []

    def sub(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                out.append(subtree_hash(start, end, node))
            return
        k = _split(n)
        if m <= k:
            sub(m, start, start + k, whole)
            out.append(subtree_hash(start + k, end, node))
        else:
            sub(m - k, start + k, end, False)
            out.append(subtree_hash(start, start + k, node))

    sub(first, 0, second, True)
    return out


def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what} hash {i} is {len(h)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1-6: the root that ``proof`` implies for ``leaf`` at ``index``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes(proof, "inclusion proof")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows ``leaf`` at ``index`` in the tree with ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless the tree of ``second`` extends that of ``first``."""
    if not 0 <= first <= second:
        raise ProofError(f"sizes out of order: {first} > {second}")
    _check_hashes(proof, "consistency proof")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for size {first}")
        return
    if first == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    # Step 2: if first is an exact power of 2, prepend first_hash to the path.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    # Step 4: while LSB(fn) is set, right-shift both.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError(f"consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"consistency proof does not lead to the root of size {second}")
