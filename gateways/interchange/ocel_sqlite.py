"""Write dossier history as an OCEL 2.0 SQLite database (the standard's relational form).

The same events, objects, types and relations as the OCEL 2.0 JSON export (see
`gateways.interchange.ocel_export`), in the tables the specification names: `event`,
`event_map_type`, one `event_<type>` per event type (its time and typed attribute
columns), `object`, `object_map_type`, one `object_<type>` per object type (a row of
initial values, then one row per change with `ocel_changed_field`), `event_object`
and `object_object` (with their qualifiers). Times are UTC ISO 8601 instants; a time
attribute a legacy log wrote without an offset is written as the log wrote it, as the JSON
export does (it names no instant, and this machine's zone is no guess at the log's).

SQLite takes table and column names that differ only in ASCII case for one name: an
activity's table is named apart from every other table (the layout's own, such as
`event_object`, included) and an attribute's column from the others of its table
(`ocel_id`, `ocel_time` included); a clash gets a number (`sendfine2`, `amount (2)`).

Streaming as the JSON export: events and objects go to staging tables as they are
read; the per-type tables are filled from them at the end, a row at a time.
"""

from __future__ import annotations

import re
import sqlite3
import string
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateways.catalogue import Catalogue
from gateways.interchange.ocel_export import EPOCH, OcelWriter
from gateways.interchange.selection import Trace

_SQL_TYPES = {
    "string": "TEXT",
    "time": "TIMESTAMP",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "BOOLEAN",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The layout's own tables and columns (staging tables included, while they last).
_TABLES = (
    "event",
    "object",
    "event_map_type",
    "object_map_type",
    "event_object",
    "object_object",
    "stage_event",
    "stage_object",
)
_EVENT_COLUMNS = ("ocel_id", "ocel_time")
_OBJECT_COLUMNS = ("ocel_id", "ocel_time", "ocel_changed_field")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _folded(name: str) -> str:
    """A name as SQLite compares identifiers: ASCII letters folded, every other one as is."""
    return name.translate(_ASCII_LOWER)


def _utc(text: str) -> str:
    """The instant in UTC; a time without an offset (no instant) or one UTC cannot hold in
    years 1-9999 (`0001-01-01T00:00:00+07:00`) as written, never read in this process's zone."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return text
    try:
        return value.astimezone(UTC).isoformat()
    except OverflowError:
        return text


def _typed(kind: str, text: Any) -> Any:
    """A JSON export's string value as the column's type (text when it does not convert)."""
    if text is None:
        return None
    try:
        if kind == "integer":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "boolean":
            return 1 if str(text) == "true" else 0
        if kind == "time":
            return _utc(str(text))
    except ValueError:
        pass
    return text


class _Maps:
    """Type name -> the table-name part the specification calls its map: ASCII letters and
    digits, the table `prefix + map` named unlike any table in `taken` (folded names, shared
    by the event and object maps, the layout's own tables in it from the start)."""

    def __init__(self, prefix: str, taken: set[str]) -> None:
        self.prefix = prefix
        self.taken = taken
        self.names: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        mapped = self.names.get(name)
        if mapped is None:
            base = re.sub(r"[^A-Za-z0-9]", "", name) or "type"
            mapped, n = base, 1
            while _folded(self.prefix + mapped) in self.taken:
                n += 1
                mapped = f"{base}{n}"
            self.taken.add(_folded(self.prefix + mapped))
            self.names[name] = mapped
        return mapped


def _columns(attributes: Iterable[str], reserved: Iterable[str]) -> dict[str, str]:
    """Attribute -> its column in one table: its own name where no column before it (nor a
    reserved one) is that name to SQLite, else `name (2)`, `name (3)`... the first free one.
    Names kept as written are taken first, so a numbered name never takes a written one."""
    taken = {_folded(r) for r in reserved}
    columns: dict[str, str] = {}
    clashing: list[str] = []
    for name in attributes:
        if _folded(name) in taken:
            clashing.append(name)
        else:
            taken.add(_folded(name))
            columns[name] = name
    for name in clashing:
        n = 2
        while _folded(f"{name} ({n})") in taken:
            n += 1
        taken.add(_folded(f"{name} ({n})"))
        columns[name] = f"{name} ({n})"
    return columns


class OcelSqliteWriter(OcelWriter):
    def __init__(self, path: Path, catalogue: Catalogue) -> None:
        super().__init__(None, catalogue)  # type: ignore[arg-type]  # writes no text
        self.db = sqlite3.connect(path)
        self.db.executescript(
            """
            CREATE TABLE stage_event (ocel_id TEXT, ocel_type TEXT, ocel_time TEXT, attributes TEXT);
            CREATE TABLE stage_object (ocel_id TEXT, ocel_type TEXT, attributes TEXT);
            CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE event_object (
                ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT,
                PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier));
            CREATE TABLE object_object (
                ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT,
                PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier));
            """
        )

    def start(self) -> None:
        pass

    def trace(self, trace: Trace) -> None:
        for record in trace.events:
            event = self._event(record.envelope, trace)
            self.db.execute(
                "INSERT INTO stage_event VALUES (?, ?, ?, ?)",
                (event["id"], event["type"], _utc(event["time"]), orjson.dumps(event["attributes"])),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO event_object VALUES (?, ?, ?)",
                [(event["id"], r["objectId"], r["qualifier"]) for r in event["relationships"]],
            )
            self.events += 1
        self._object(self._dossier(trace))
        self.traces += 1

    def _object(self, obj: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO stage_object VALUES (?, ?, ?)",
            (obj["id"], obj["type"], orjson.dumps(obj.get("attributes") or [])),
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO object_object VALUES (?, ?, ?)",
            [(obj["id"], r["objectId"], r["qualifier"]) for r in obj.get("relationships") or []],
        )

    def end(self) -> None:
        self._catalogue_objects()
        db = self.db
        taken = {_folded(t) for t in _TABLES}
        events = _Maps("event_", taken)
        for name, declared in self._types.items():
            table = _quote("event_" + events(name))
            names = list(declared)
            column = _columns(names, _EVENT_COLUMNS)
            columns = "".join(f", {_quote(column[a])} {_SQL_TYPES.get(declared[a], 'TEXT')}" for a in names)
            db.execute(f"CREATE TABLE {table} (ocel_id TEXT PRIMARY KEY, ocel_time TIMESTAMP{columns})")
            db.execute("INSERT INTO event_map_type VALUES (?, ?)", (name, events(name)))
            insert = (
                f"INSERT INTO {table} (ocel_id, ocel_time{''.join(', ' + _quote(column[a]) for a in names)}) "
                f"VALUES (?, ?{', ?' * len(names)})"
            )
            rows = db.execute(
                "SELECT ocel_id, ocel_time, attributes FROM stage_event WHERE ocel_type = ?", (name,)
            )
            for ocel_id, time, attributes in rows.fetchall():
                values = {a["name"]: a["value"] for a in orjson.loads(attributes)}
                db.execute(insert, (ocel_id, time, *(_typed(declared[a], values.get(a)) for a in names)))
        db.execute("INSERT INTO event SELECT ocel_id, ocel_type FROM stage_event")
        objects = _Maps("object_", taken)
        epoch = _utc(EPOCH)
        for object_type in self.object_types():
            name = str(object_type["name"])
            declared = {str(a["name"]): str(a["type"]) for a in object_type["attributes"]}
            table = _quote("object_" + objects(name))
            names = list(declared)
            column = _columns(names, _OBJECT_COLUMNS)
            columns = "".join(f", {_quote(column[a])} {_SQL_TYPES.get(declared[a], 'TEXT')}" for a in names)
            db.execute(
                f"CREATE TABLE {table} (ocel_id TEXT, ocel_time TIMESTAMP, ocel_changed_field TEXT{columns})"
            )
            db.execute("INSERT INTO object_map_type VALUES (?, ?)", (name, objects(name)))
            insert = (
                f"INSERT INTO {table} (ocel_id, ocel_time, ocel_changed_field"
                f"{''.join(', ' + _quote(column[a]) for a in names)}) VALUES (?, ?, ?{', ?' * len(names)})"
            )
            rows = db.execute("SELECT ocel_id, attributes FROM stage_object WHERE ocel_type = ?", (name,))
            for ocel_id, attributes in rows.fetchall():
                initial: dict[str, Any] = {}
                changes: list[tuple[str, str, Any]] = []
                for a in orjson.loads(attributes):
                    at = _utc(a["time"])
                    if at == epoch and a["name"] not in initial:
                        initial[a["name"]] = a["value"]
                    else:
                        changes.append((at, a["name"], a["value"]))
                db.execute(
                    insert,
                    (ocel_id, epoch, None, *(_typed(declared[a], initial.get(a)) for a in names)),
                )
                for at, field, value in changes:
                    row = [_typed(declared[a], value) if a == field else None for a in names]
                    db.execute(insert, (ocel_id, at, column.get(field, field), *row))
        db.execute("INSERT INTO object SELECT ocel_id, ocel_type FROM stage_object")
        db.executescript("DROP TABLE stage_event; DROP TABLE stage_object;")
        db.commit()

    def close(self) -> None:
        super().close()
        self.db.close()


def write_ocel_sqlite(path: Path, traces: Iterable[Trace], catalogue: Catalogue) -> tuple[int, int]:
    """Write the database at `path` (a new file); returns (dossiers, events) written."""
    writer = OcelSqliteWriter(path, catalogue)
    try:
        writer.start()
        for trace in traces:
            writer.trace(trace)
        writer.end()
    finally:
        writer.close()
    return writer.traces, writer.events
