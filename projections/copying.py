"""`dataclasses.replace` for the views' frozen records without running `__init__` again.

The folds copy a record once or twice per event; `replace` re-validates and re-assigns every
field through `__init__` (~10 µs for a 20-field record), a copy of the instance dictionary
costs about a tenth of that. Valid for the records of `projections/` only: dataclasses with
no `__post_init__`, no `init=False` field and no slots (tests/unit/test_batch_folds.py holds
the folds equal with `replace`). Modules import it as `replace` at run time and let the type
checker see `dataclasses.replace`, so field names and types are still checked.
"""

from __future__ import annotations

from typing import Any, TypeVar

R = TypeVar("R")


def copy_with(record: R, /, **changes: Any) -> R:
    new: R = object.__new__(type(record))
    vars(new).update(vars(record))
    vars(new).update(changes)
    return new
