"""Random bytes a page at a time: every byte handed out once, and a forked child draws its own."""

from __future__ import annotations

import os

from gateways.entropy import random_bytes, token_urlsafe


def test_bytes_are_never_handed_out_twice_and_pages_refill() -> None:
    drawn = [random_bytes(32) for _ in range(1000)]  # several pages
    assert len(set(drawn)) == 1000 and all(len(d) == 32 for d in drawn)
    assert len(random_bytes(10_000)) == 10_000  # more than a page at once
    assert len({token_urlsafe(12) for _ in range(100)}) == 100


def test_a_forked_child_does_not_reuse_its_parents_page() -> None:
    random_bytes(1)  # the parent holds a page
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it draws next
        os.write(write, random_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 32)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != random_bytes(32)
