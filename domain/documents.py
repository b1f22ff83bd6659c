"""Dossier documents (thành phần hồ sơ): which files a dossier may be given, and by whom.

- Components are attached by the agency holding the dossier (the desk at intake, later
  holders as they scan what they were given), while the dossier is open and its result is
  not ready; the result file by the holder once the dossier is decided.
- A component's name must be one the procedure required on the day of receipt, when the
  procedure lists its components; a procedure without a list (imported history) takes any
  name.
- Attaching the same content to the same component again records nothing (idempotent).
- Missing components named by a supplement request or a desk refusal must be components of
  the procedure, when it lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain import events as ev
from domain.errors import InvalidValue, RuleViolated

if TYPE_CHECKING:  # domain.dossier imports this module; commands import the succession fold
    from domain import commands as cmd

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
RESULT_COMPONENT = "kết quả giải quyết"  # the component name a result file is recorded under


@dataclass(frozen=True)
class AttachedDocument:
    """A file of the dossier as its state keeps it (the name stays sealed in the event)."""

    seq: int
    purpose: ev.DocumentPurpose
    component: str
    media_type: str
    size_bytes: int
    sha256: str
    attached_at: datetime
    agency_code: str


def missing_components(names: tuple[str, ...], required: tuple[str, ...]) -> tuple[str, ...]:
    """The missing components named (trimmed), each one of `required` when that is not empty."""
    cleaned = tuple(n.strip() for n in names if n.strip())
    if len(cleaned) != len(names):
        raise InvalidValue("a missing component must be named (no empty names)")
    if required:
        unknown = [n for n in cleaned if n not in required]
        if unknown:
            raise InvalidValue(
                f"not a component of this procedure: {', '.join(unknown)} "
                f"(its components: {'; '.join(required)})"
            )
    return cleaned


def digitized(documents: tuple[AttachedDocument, ...], required: tuple[str, ...], extra: str = "") -> bool:
    """Every required component has a file (with `extra` counted as attached)."""
    if not required:
        return False  # nothing to check against: never counted as complete
    have = {d.component for d in documents if d.purpose == ev.DocumentPurpose.COMPONENT}
    if extra:
        have.add(extra)
    return set(required) <= have


def attach(
    documents: tuple[AttachedDocument, ...],
    c: cmd.AttachDocument,
    *,
    decided: bool,
    result_ready: bool,
    actor: ev.Actor,
) -> list[ev.DossierEvent]:
    """The event attaching `c`'s file, or none when this content is already there.

    The caller has checked that `actor` may act (the holder) and that the dossier is open.
    """
    try:
        purpose = ev.DocumentPurpose(c.purpose)
    except ValueError:
        raise InvalidValue(f"purpose must be 'component' or 'result', not '{c.purpose[:40]}'") from None
    if not _SHA256.match(c.sha256):
        raise InvalidValue("sha256 must be 64 lowercase hexadecimal digits")
    if c.size_bytes <= 0:
        raise InvalidValue("an empty file cannot be attached")
    if not c.media_type.strip():
        raise InvalidValue("the file's media type is unknown")
    if purpose == ev.DocumentPurpose.RESULT:
        if not decided:
            raise RuleViolated("the result file can be attached only once the dossier is decided")
        component = RESULT_COMPONENT
    else:
        if result_ready:
            raise RuleViolated("the result is ready: components can no longer be attached")
        component = c.component.strip()
        if not component:
            raise InvalidValue("name the component the file is (thành phần hồ sơ)")
        if c.required_components and component not in c.required_components:
            raise InvalidValue(
                f"'{component[:200]}' is not a component of this procedure "
                f"(its components: {'; '.join(c.required_components)})"
            )
    if any(d.purpose == purpose and d.component == component and d.sha256 == c.sha256 for d in documents):
        return []  # the same content under the same component: already recorded
    complete = digitized(
        documents, c.required_components, component if purpose == ev.DocumentPurpose.COMPONENT else ""
    )
    return [
        ev.DocumentAttached(
            occurred_at=c.occurred_at,
            actor=actor,
            purpose=purpose,
            component=component,
            file_name=dict(c.file_name),
            media_type=c.media_type.strip(),
            size_bytes=c.size_bytes,
            sha256=c.sha256,
            all_components_digitized=complete,
        )
    ]
