"""Merkle roots and inclusion proofs (projections.merkle) in the RFC 6962 shape."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    path_ranges,
    root_of,
    verify_inclusion,
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(count)]


def reference_root(hashes: list[bytes]) -> bytes:
    """The recursive definition: split at the largest power of two below n."""
    if not hashes:
        return sha(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def reference_path(index: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    if index < k:
        return [*reference_path(index, hashes[:k]), reference_root(hashes[k:])]
    return [*reference_path(index - k, hashes[k:]), reference_root(hashes[:k])]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    # leaf = SHA-256(0x00 || data); node = SHA-256(0x01 || left || right)
    assert leaf_hash(b"abc") == sha(b"\x00abc")
    left, right = sha(b"l"), sha(b"r")
    assert node_hash(left, right) == sha(b"\x01" + left + right)
    # The same 64 bytes hashed as a leaf and as a node give different digests.
    assert leaf_hash(left + right) != node_hash(left, right)


def test_small_trees_by_hand() -> None:
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert root_of([]) == EMPTY_ROOT == sha(b"")
    assert root_of([a]) == a
    assert root_of([a, b]) == sha(b"\x01" + a + b)
    # Three leaves split at 2: node(node(a, b), c), not node(a, node(b, c)).
    assert root_of([a, b, c]) == sha(b"\x01" + sha(b"\x01" + a + b) + c)
    # Leaf c of three: its sibling is node(a, b); leaf a: first b, then c.
    assert inclusion_proof([a, b, c], 2, 3) == [sha(b"\x01" + a + b)]
    assert inclusion_proof([a, b, c], 0, 3) == [b, c]


def test_path_ranges_of_leaf_five_in_seven() -> None:
    # 7 leaves = [0,4) + [4,7); [4,7) = [4,6) + [6,7); leaf 5's sibling in [4,6) is leaf 4.
    assert path_ranges(5, 7) == [(4, 5), (6, 7), (0, 4)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_leaf_of_any_tree_proves_and_a_changed_leaf_fails(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=300), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    hashes = leaves(size)
    root = root_of(iter(hashes))
    assert root == reference_root(hashes)
    path = inclusion_proof(iter(hashes), index, size)
    assert path == reference_path(index, hashes)
    assert verify_inclusion(hashes[index], index, size, path, root)
    assert not verify_inclusion(leaf_hash(b"forged"), index, size, path, root)
    if path:
        which = data.draw(st.integers(min_value=0, max_value=len(path) - 1), label="which")
        bent = [*path[:which], sha(path[which]), *path[which + 1 :]]
        assert not verify_inclusion(hashes[index], index, size, bent, root)
        assert not verify_inclusion(hashes[index], index, size, path[:-1], root)
    assert not verify_inclusion(hashes[index], index, size, [*path, root], root)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
    )
)
def test_a_changed_leaf_changes_the_root_and_breaks_old_proofs(case: tuple[int, int]) -> None:
    size, changed = case
    hashes = leaves(size)
    root = root_of(hashes)
    tampered = [*hashes[:changed], leaf_hash(b"altered"), *hashes[changed + 1 :]]
    assert root_of(tampered) != root
    for index in {0, changed, size - 1}:
        path = inclusion_proof(tampered, index, size)
        assert not verify_inclusion(tampered[index], index, size, path, root)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=300))
def test_a_frontier_resumes_where_the_last_checkpoint_stopped(first: int, more: int) -> None:
    hashes = leaves(first + more)
    earlier = MerkleFrontier()
    for leaf in hashes[:first]:
        earlier.append(leaf)
    assert len(earlier.frontier) == bin(first).count("1")
    resumed = MerkleFrontier(earlier.size, earlier.frontier)
    for leaf in hashes[first:]:
        resumed.append(leaf)
    assert resumed.size == first + more
    assert resumed.root() == reference_root(hashes)


def test_only_the_first_size_leaves_count_and_too_few_is_an_error() -> None:
    hashes = leaves(10)
    assert inclusion_proof(hashes, 3, 6) == reference_path(3, hashes[:6])
    with pytest.raises(ValueError, match="only 4 leaves"):
        inclusion_proof(hashes[:4], 1, 6)
    with pytest.raises(ValueError, match="outside"):
        path_ranges(6, 6)
    with pytest.raises(ValueError, match="frontier"):
        MerkleFrontier(3, [hashes[0]])
    assert not verify_inclusion(hashes[0], 5, 5, [], hashes[0])
