"""Merkle tree hashing in the RFC 6962 shape, for signed audit checkpoints.

- A leaf hashes as SHA-256(0x00 || data) and an inner node as SHA-256(0x01 || left || right);
  the distinct prefixes keep a leaf from ever passing for an inner node.
- A tree of n > 1 leaves splits at k, the largest power of two below n: the left
  subtree holds leaves [0, k) and the right one [k, n). The empty tree's root is SHA-256("").
- `MerkleFrontier` reads leaves one by one and keeps only the roots of the perfect
  subtrees seen so far (one per set bit of the size), so memory is O(log n) and a
  checkpoint can resume from the previous one's frontier.
- An inclusion proof (audit path) for leaf i of a tree of size n lists the sibling
  subtree roots from the leaf up to the root.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(count: int) -> int:
    """The largest power of two strictly below `count` (count >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


class MerkleFrontier:
    """The roots of the perfect subtrees covering the leaves appended so far, largest first."""

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if size < 0 or len(frontier) != size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has {size.bit_count()} frontier hashes, not {len(frontier)}"
            )
        self._size = size
        self._stack = list(frontier)

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return tuple(self._stack)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash; merges as many perfect subtrees as the size has trailing ones."""
        node, carry = leaf, self._size
        while carry & 1:
            node = node_hash(self._stack.pop(), node)
            carry >>= 1
        self._stack.append(node)
        self._size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The tree root over leaf hashes, streamed."""
    tree = MerkleFrontier()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose subtree roots form the audit path, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def inclusion_proof(leaves: Iterable[bytes], index: int, size: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree over the first `size` leaf hashes, streamed.

    The sibling ranges are disjoint and, with the leaf itself, tile [0, size), so one pass
    in leaf order builds each sibling root in turn with one O(log n) frontier at a time.
    """
    ranges = path_ranges(index, size)
    order = sorted(range(len(ranges)), key=lambda r: ranges[r][0])
    path: list[bytes | None] = [None] * len(ranges)
    slot = 0
    tree = MerkleFrontier()
    seen = 0
    for position, leaf in enumerate(itertools.islice(leaves, size)):
        seen += 1
        if position == index:
            continue
        end = ranges[order[slot]][1]
        tree.append(leaf)
        if position == end - 1:
            path[order[slot]] = tree.root()
            slot += 1
            tree = MerkleFrontier()
    if seen < size:
        raise ValueError(f"only {seen} leaves were given for a tree of {size}")
    return [node for node in path if node is not None]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` leads to from `leaf`, or None when the path has the wrong shape."""
    if not 0 <= index < size:
        return None
    position, last = index, size - 1
    node = leaf
    for sibling in path:
        if last == 0:
            return None  # more path than the tree is tall
        if position & 1 or position == last:
            node = node_hash(sibling, node)
            # A right-edge node with no right sibling rises without hashing until it is a right child.
            while not position & 1 and position != 0:
                position >>= 1
                last >>= 1
        else:
            node = node_hash(node, sibling)
        position >>= 1
        last >>= 1
    return node if last == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    return root_from_path(leaf, index, size, path) == root
