"""`dataclasses.replace` for frozen records, without running `__init__` over every field again.

The folds (a dossier's `evolve`, the views' folds in `projections/`) copy a record once or twice
per event; `replace` re-assigns every field through `__init__`, a copy of the instance dictionary
costs about a tenth of that. Valid for dataclasses with no `__post_init__`, no `init=False` field
and no slots. Modules import it as `replace` at run time and let the type checker see
`dataclasses.replace`, so field names and types are still checked (property tests in
tests/unit/test_batch_folds.py hold the folds equal either way).
"""

from __future__ import annotations

from typing import Any, TypeVar

R = TypeVar("R")


def copy_with(record: R, /, **changes: Any) -> R:
    new: R = object.__new__(type(record))
    vars(new).update(vars(record))
    vars(new).update(changes)
    return new
