"""RFC 9162 Merkle tree: the RFC 6962 test vectors of the CT reference implementations (Trillian's
`merkle/testonly` constants and log verifier tests), and a naive recursive implementation written
from the RFC text as a second opinion for every size up to 130."""
from __future__ import annotations

import hashlib

import pytest

from core.audit.merkle import (EMPTY_ROOT, CompactRange, Frontier, Tree, consistency_proof, inclusion_proof, leaf_hash, node_hash, root,
                         root_from_inclusion, verify_consistency, verify_inclusion)

h = bytes.fromhex
LEAF_INPUTS = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
LEAVES = [leaf_hash(x) for x in LEAF_INPUTS]
# (1-based leaf, tree size, path) from Trillian's log verifier tests
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def test_roots_match_the_rfc6962_vectors() -> None:
    assert root([]) == EMPTY_ROOT == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert [root(LEAVES[:n]) for n in range(1, 9)] == ROOTS
    assert LEAVES[1] == h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")


def test_frontier_is_the_compact_range_of_the_vectors() -> None:
    f = Frontier()
    for n, leaf in enumerate(LEAVES, 1):
        f.append(leaf)
        assert f.root() == ROOTS[n - 1] and len(f.hashes) == bin(n).count("1")
    assert Frontier.from_hex(f.size, f.to_hex()).root() == ROOTS[-1]
    with pytest.raises(ValueError):
        Frontier(3, [LEAVES[0]])


@pytest.mark.parametrize("leaf,size,path", INCLUSION)
def test_inclusion_proofs_match_the_vectors(leaf: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(LEAVES, leaf - 1, size)
    assert proof == [h(p) for p in path]
    assert verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], proof, ROOTS[size - 1])
    # the corruptions of Trillian's corruptInclusionProof: each must fail
    wrong = [(leaf - 2, size, LEAVES[leaf - 1], proof), (leaf, size, LEAVES[leaf - 1], proof),
             (leaf - 1, size * 2, LEAVES[leaf - 1], proof), (leaf - 1, size, b"WrongLeaf", proof),
             (leaf - 1, size, LEAVES[leaf - 1], proof + [b""]), (leaf - 1, size, LEAVES[leaf - 1], [ROOTS[size - 1]] + proof)]
    if size > 1:
        wrong.append((leaf - 1, size // 2, LEAVES[leaf - 1], proof))
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        wrong.append((leaf - 1, size, LEAVES[leaf - 1], flipped))
    if proof:
        wrong.append((leaf - 1, size, LEAVES[leaf - 1], proof[:-1]))
    for args in wrong:
        assert not verify_inclusion(*args, ROOTS[size - 1]), args[:2]
    assert not verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], proof, EMPTY_ROOT)


@pytest.mark.parametrize("first,second,path", CONSISTENCY)
def test_consistency_proofs_match_the_vectors(first: int, second: int, path: list[str]) -> None:
    proof = consistency_proof(LEAVES, first, second)
    assert proof == [h(p) for p in path]
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    assert verify_consistency(first, second, r1, r2, proof)
    if not proof:
        return
    wrong = [(first - 1, second, r1, r2, proof), (first + 1, second, r1, r2, proof), (first, second * 2, r1, r2, proof),
             (first, second // 2, r1, r2, proof), (first, second, b"WrongRoot", r2, proof), (first, second, r1, b"WrongRoot", proof),
             (first, second, r2, r1, proof), (first, second, r1, r2, []), (first, second, r1, r2, proof + [r1]),
             (first, second, r1, r2, [r2] + proof), (first, second, r1, r2, proof[:-1])]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        wrong.append((first, second, r1, r2, flipped))
    for args in wrong:
        assert not verify_consistency(*args), args[:2]


def test_trivial_consistency_cases() -> None:
    assert verify_consistency(0, 0, b"x", b"x", []) and verify_consistency(0, 5, b"a", b"b", [])
    assert not verify_consistency(1, 1, b"a", b"b", []) and not verify_consistency(2, 1, b"a", b"b", [])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


# --- a second, naive implementation straight from the RFC's recursive definitions -------------------

def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _path(m, d[:k]) + [_mth(d[k:])] if m < k else _path(m - k, d[k:]) + [_mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _subproof(m, d[:k], b) + [_mth(d[k:])] if m <= k else _subproof(m - k, d[k:], False) + [_mth(d[:k])]


def test_agrees_with_a_naive_recursive_implementation_up_to_130_leaves() -> None:
    data = [i.to_bytes(4, "big") * (i % 3 + 1) for i in range(130)]
    leaves = [leaf_hash(x) for x in data]
    for n in range(1, 131):
        r = _mth(data[:n])
        tree = Tree(leaves[:n])
        assert root(leaves[:n]) == r == tree.root()
        for m in range(n):
            proof = tree.inclusion_proof(m)
            assert proof == _path(m, data[:n])
            assert root_from_inclusion(m, n, leaves[m], proof) == r
        for m in range(1, n):
            proof = tree.consistency_proof(m)
            assert proof == _subproof(m, data[:n], True)
            assert verify_consistency(m, n, _mth(data[:m]), r, proof)


def test_node_hash_is_domain_separated_from_leaf_hash() -> None:
    a, b = LEAVES[0], LEAVES[1]
    assert node_hash(a, b) != leaf_hash(a + b)


def test_compact_ranges_grown_apart_merge_into_the_tree_at_every_size() -> None:
    """What the two-process verify relies on: [0, mid) and [mid, n), each grown alone, give the root of
    the naive recursion at n and at every size inside either half, for every split point up to 70."""
    data = [i.to_bytes(4, "big") for i in range(70)]
    leaves = [leaf_hash(x) for x in data]
    for n in range(1, 71):
        for mid in range(n + 1):
            low, low_at = CompactRange.grow(b"".join(leaves[:mid]), 0, range(n + 1))
            high, high_at = CompactRange.grow(b"".join(leaves[mid:n]), mid, range(n + 1))
            assert low.merge(high).frontier().root() == _mth(data[:n])
            for s in range(1, n + 1):
                at = low_at[s] if s <= mid else low.merge(high_at[s])
                assert at.frontier().root() == _mth(data[:s]), (n, mid, s)


def test_compact_ranges_merge_in_any_grouping_and_round_trip_as_json() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    a, _ = CompactRange.grow(b"".join(leaves[:5]), 0)
    b, _ = CompactRange.grow(b"".join(leaves[5:22]), 5)
    c, _ = CompactRange.grow(b"".join(leaves[22:]), 22)
    assert a.merge(b).merge(c).frontier().root() == a.merge(b.merge(c)).frontier().root() == root(leaves)
    assert CompactRange.from_json(b.to_json()).nodes == b.nodes
    with pytest.raises(ValueError, match="not adjacent"):
        a.merge(c)
    with pytest.raises(ValueError, match="not a tree"):
        b.frontier()
    with pytest.raises(ValueError, match="do not cover"):
        CompactRange(0, 3, [(0, leaves[0])])
