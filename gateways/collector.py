"""The cyclic garbage collector kept out of the way of bulk reads.

An XES import or a mining read allocates millions of short-lived objects (attributes, events,
envelopes, tuples), none in a cycle, all freed by their reference counts. At the default first
threshold (700) each collection they set off walked what was held in memory, and every tenth of
those, in a process that has imported PM4Py, its whole heap.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_OBJECTS = 100_000  # the collector's first threshold during a bulk read


@contextmanager
def fewer_collections(young: int = YOUNG_OBJECTS) -> Iterator[None]:
    """The collector's first generation made `young` objects large meanwhile; restored
    afterwards (the process's other threads see fewer collections meanwhile, never none)."""
    before = gc.get_threshold()
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
