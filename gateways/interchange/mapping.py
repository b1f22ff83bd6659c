"""How a legacy log's `org:group` values become agencies of the catalogue.

The optional mapping file is JSON:

    {
      "default_level": "province_department",
      "no_group": ["EMPTY", ""],
      "groups": {
        "Group 1": "commune",
        "Group 4": {"code": "000.00.21.H29", "level": "province_department",
                    "name": "Sở Tài nguyên và Môi trường", "parent_code": "000.00.00.H29"}
      }
    }

A group given as a string names its level; as an object it may also give the
agency's code, name and parent. Without an entry, a group becomes an agency whose
code is derived from the group's name (`agency_code_for`), named after it, at
`default_level` (`province_department` unless the file says otherwise).
`no_group` lists the values that mean "no group recorded" (default `EMPTY` and
the empty string); a value that `groups` maps is a real group even if listed there.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from domain.agencies import AgencyLevel
from domain.errors import InvalidValue

DEFAULT_LEVEL = AgencyLevel.PROVINCE_DEPARTMENT
DEFAULT_NO_GROUP = frozenset({"EMPTY", ""})
_MAX_CODE = 64


def code_for(text: str, max_length: int = _MAX_CODE) -> str:
    """A catalogue code from free text: upper case, runs of other characters as one '-'.

    Idempotent (a code maps to itself), so a log exported by lienthong imports
    back onto the same agency codes. Long names keep a hash suffix to stay unique.
    """
    # Vietnamese names keep their letters without the marks (Sở -> SO, Đ -> D).
    plain = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    code = re.sub(r"[^A-Z0-9._]+", "-", plain.upper()).strip("-")
    if not code:  # nothing usable in the text: a stable code from its hash
        return "G-" + hashlib.sha256(text.encode()).hexdigest()[:8].upper()
    if len(code) > max_length:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8].upper()
        code = code[: max_length - 9].rstrip("-") + "-" + digest
    return code


def distinct_code(text: str, max_length: int = _MAX_CODE) -> str:
    """A code for `text` that differs from `code_for` of any other text: `code_for(text)` with
    a hash of the exact text appended (for groups that differ only in case or punctuation)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:8].upper()
    return code_for(text, max_length - 9).rstrip("-") + "-" + digest


@dataclass(frozen=True)
class GroupAgency:
    """The agency one group stands for."""

    code: str
    name: str
    level: AgencyLevel
    parent_code: str | None = None


@dataclass(frozen=True)
class GroupMapping:
    default_level: AgencyLevel = DEFAULT_LEVEL
    no_group: frozenset[str] = DEFAULT_NO_GROUP
    groups: dict[str, GroupAgency] = field(default_factory=dict)

    def is_no_group(self, value: str | None) -> bool:
        if value is None:
            return True
        value = value.strip()
        return value not in self.groups and value in self.no_group

    def agency_for(self, group: str) -> GroupAgency:
        group = group.strip()
        known = self.groups.get(group)
        if known is not None:
            return known
        code = code_for(group)
        return GroupAgency(code=code, name=group or code, level=self.default_level)

    @classmethod
    def load(cls, path: Path | None) -> GroupMapping:
        if path is None:
            return cls()
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InvalidValue(f"mapping file {path.name} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidValue(f"mapping file {path.name}: expected an object")
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupMapping:
        default_level = _level(data.get("default_level", DEFAULT_LEVEL.value), "default_level")
        no_group = data.get("no_group")
        if no_group is not None and (
            not isinstance(no_group, list) or not all(isinstance(v, str) for v in no_group)
        ):
            raise InvalidValue("no_group must be a list of strings")
        groups: dict[str, GroupAgency] = {}
        raw_groups = data.get("groups", {})
        if not isinstance(raw_groups, dict):
            raise InvalidValue("groups must be an object: group name -> level or agency")
        for group, given in raw_groups.items():
            name = str(group).strip()
            entry = {"level": given} if isinstance(given, str) else given
            if not isinstance(entry, dict):
                raise InvalidValue(f"group '{name}': give a level or an object")
            code = str(entry.get("code") or code_for(name))
            if entry.get("parent_code") == code:
                raise InvalidValue(f"group '{name}': agency {code} cannot be its own parent")
            groups[name] = GroupAgency(
                code=code,
                name=str(entry.get("name") or name),
                level=_level(entry.get("level", default_level.value), f"group '{name}'"),
                parent_code=entry.get("parent_code"),
            )
        return cls(
            default_level=default_level,
            no_group=frozenset(v.strip() for v in no_group) if no_group is not None else DEFAULT_NO_GROUP,
            groups=groups,
        )


def _level(value: Any, where: str) -> AgencyLevel:
    try:
        return AgencyLevel(value)
    except ValueError as exc:
        levels = ", ".join(level.value for level in AgencyLevel)
        raise InvalidValue(f"{where}: unknown level '{value}' (one of {levels})") from exc
