"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, inclusion and consistency proofs.

Why our own and not a library: pymerkle, the maintained Python one, is GPL-3.0 and this project is
Apache-2.0. The algorithms are short; tests/audit/test_merkle.py checks them against the RFC 6962 test
vectors of the CT reference implementations (Trillian `merkle/testonly`, its log verifier tests)
and against a second, naive recursive implementation for every size up to 130.

Hashes are raw 32-byte `bytes`. Leaves are hashed SHA-256(0x00 || leaf), interior nodes
SHA-256(0x01 || left || right), so a leaf can never be passed off as a node (second preimage).
`Frontier` is the compact range of a tree grown from index 0 (the roots of its perfect subtrees,
one per set bit of the size): appending is amortised O(1) and the root at the current size costs
O(log n), which is what lets the audit log keep a tree head of 1,000,000 records in one table row.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact range [0, size): perfect-subtree roots, largest first."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a frontier of size {size} has {bin(size).count('1')} hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash; merge the subtrees that became complete (one per trailing zero bit)."""
        hashes = self.hashes
        hashes.append(leaf)
        self.size += 1
        s = self.size
        while not s & 1:
            right = hashes.pop()
            hashes[-1] = sha256(b"\x01" + hashes[-1] + right).digest()
            s >>= 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def copy(self) -> "Frontier":
        return Frontier(self.size, list(self.hashes))

    def to_hex(self) -> list[str]:
        return [h.hex() for h in self.hashes]

    @classmethod
    def from_hex(cls, size: int, hashes: Sequence[str]) -> "Frontier":
        return cls(size, [bytes.fromhex(h) for h in hashes])


class CompactRange:
    """The compact range [begin, end) (RFC 9162 trees; Trillian's merkle/compact): the roots of the
    fewest aligned perfect subtrees that cover it, left to right, as (height, hash). Two adjacent
    ranges merge into one, so two processes can each grow part of a log and the tree at any size is
    rebuilt from their ranges, without either seeing the other's leaves (core/audit/verify.py)."""

    __slots__ = ("begin", "end", "nodes")

    def __init__(self, begin: int, end: int, nodes: Sequence[tuple[int, bytes]] = ()) -> None:
        if sum(1 << h for h, _ in nodes) != end - begin:
            raise ValueError(f"subtrees of heights {[h for h, _ in nodes]} do not cover [{begin}, {end})")
        self.begin, self.end, self.nodes = begin, end, list(nodes)

    @classmethod
    def grow(cls, leaves: bytes, begin: int, at: Iterable[int] = ()) -> tuple["CompactRange", dict[int, "CompactRange"]]:
        """The range over `leaves` (32-byte leaf hashes, concatenated) placed at index `begin`, and
        the range [begin, s) at each s of `at` inside it."""
        hashes: list[bytes] = []
        heights: list[int] = []
        wanted, snaps, end = set(at), {}, begin
        for off in range(0, len(leaves), 32):  # runs once per record: Frontier.append's loop, bounded by `begin`
            hashes.append(leaves[off:off + 32])
            heights.append(0)
            end += 1
            s, h = end, 0
            # Two subtrees are siblings when they have the same height and the left one starts on a
            # multiple of twice that size; one that would reach left of `begin` is not in this range.
            while not s & 1 and len(heights) > 1 and heights[-2] == h:
                right = hashes.pop()
                heights.pop()
                hashes[-1] = sha256(b"\x01" + hashes[-1] + right).digest()
                h += 1
                heights[-1] = h
                s >>= 1
            if end in wanted:
                snaps[end] = cls(begin, end, list(zip(heights, hashes)))
        return cls(begin, end, list(zip(heights, hashes))), snaps

    def merge(self, right: "CompactRange") -> "CompactRange":
        """[begin, right.end) from this range and the one that starts where it ends."""
        if self.end != right.begin:
            raise ValueError(f"[{self.begin}, {self.end}) and [{right.begin}, {right.end}) are not adjacent")
        stack: list[tuple[int, int, bytes]] = []  # (start, height, hash)
        start = self.begin
        for h, x in (*self.nodes, *right.nodes):
            at, start = start, start + (1 << h)
            while stack and stack[-1][1] == h and stack[-1][0] % (2 << h) == 0:
                at, _, left = stack.pop()
                x, h = node_hash(left, x), h + 1
            stack.append((at, h, x))
        return CompactRange(self.begin, right.end, [(h, x) for _, h, x in stack])

    def frontier(self) -> "Frontier":
        if self.begin != 0:
            raise ValueError(f"a range from {self.begin} is not a tree: merge it with [0, {self.begin}) first")
        return Frontier(self.end, [x for _, x in self.nodes])

    def to_json(self) -> list:
        return [self.begin, self.end, [[h, x.hex()] for h, x in self.nodes]]

    @classmethod
    def from_json(cls, data: Sequence) -> "CompactRange":
        begin, end, nodes = data
        return cls(int(begin), int(end), [(int(h), bytes.fromhex(x)) for h, x in nodes])


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, computed iteratively."""
    f = Frontier()
    f.extend(leaves)
    return f.root()


class Tree:
    """All levels of a tree over `leaves`: every aligned perfect subtree's root is a lookup, so
    proofs cost O(log^2 n) after one O(n) build (about a second at 1,000,000 leaves)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            level = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def range_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for the ranges the RFC's recursion produces (lo aligned to the split)."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self.range_root(lo, lo + k), self.range_root(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        return self.range_root(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
        n = self.size if size is None else size
        if not 0 <= index < n <= self.size:
            raise ValueError(f"leaf index {index} is not in a tree of size {n}")
        path: list[bytes] = []
        lo, hi, m = 0, n, index
        while hi - lo > 1:
            k = _split(hi - lo)
            if m < k:
                path.append(self.range_root(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.range_root(lo, lo + k))
                lo, m = lo + k, m - k
        return path[::-1]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 2.1.4.1: the tree of size `first` is a prefix of `second`."""
        n = self.size if second is None else second
        if not 0 <= first <= n <= self.size:
            raise ValueError(f"no consistency proof from size {first} to {n}")
        if first == 0 or first == n:
            return []
        path: list[bytes] = []
        lo, hi, m, whole = 0, n, first, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                path.append(self.range_root(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.range_root(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        if not whole:
            path.append(self.range_root(lo, hi))
        return path[::-1]


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    return Tree(leaves[:size] if size is not None else leaves).inclusion_proof(index, size)


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    return Tree(leaves[:second] if second is not None else leaves).consistency_proof(first, second)


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2; None when the proof cannot be valid for this index and size."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return None
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
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, proof) == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: the tree of size `first` (first_root) is a prefix of the one of size `second`."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a whole subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
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
    return sn == 0 and fr == first_root and sr == second_root
