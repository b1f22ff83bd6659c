"""The server's heap before it serves: what start-up made is kept out of the collector's way.

A full collection walks every object the process tracks; after start-up most of them are the
catalogue, the modules and the application, which live as long as the process. Walked at
every full collection, they made a pause of 80–150 ms in the middle of a request at the
default benchmark size (docs/benchmarks.md, "Query latency: third round"); frozen, the pause
is that of what came after them (5 ms).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then move every object still alive to the permanent generation
    (`gc.freeze`): full collections no longer walk them. Call once, before serving."""
    gc.collect()
    gc.freeze()
