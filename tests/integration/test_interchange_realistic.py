"""Interchange on the shapes of well-known public logs, where a process miner would look.

Small logs are built here after the published shape of the road-traffic-fines log (no
group at all, a resource on some events only, several events of a case on one day at
midnight with +01:00/+02:00 offsets across daylight saving time) and of the travel
permit log (attribute keys with spaces, events whose times go back within a trace,
duplicate trace names, start/complete pairs), plus trace names that collide with a
disambiguated case id and a log writing each attribute's value before its key. The
rich-log and receipt-log round trips are in test_interchange_fidelity.py and
test_interchange.py; this file reuses their independent reading of the files.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest

from gateways.bench.mining import differences, edge_stats, pm4py_edge_stats
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat
from gateways.interchange.selection import dossier_ids
from gateways.interchange.xes_import import import_xes
from tests.integration.test_interchange_fidelity import (
    export_to,
    typed_traces,
)

pm4py = pytest.importorskip("pm4py")

WORKERS = pytest.mark.parametrize("workers", [0, 2], ids=["this-process", "two-workers"])
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
)


def attribute(kind: str, key: str, value: Any) -> str:
    return f"<{kind} key={quoteattr(key)} value={quoteattr(str(value))}/>"


def event(name: str, at: str, *extra: str, group: str | None = "Desk") -> str:
    body = attribute("string", "concept:name", name) + attribute("date", "time:timestamp", at)
    if group is not None:
        body += attribute("string", "org:group", group)
    return "<event>" + body + "".join(extra) + "</event>\n"


def trace(name: str, *events: str) -> str:
    return "<trace>" + attribute("string", "concept:name", name) + "\n" + "".join(events) + "</trace>\n"


def stored_case_ids(container: Any) -> list[str]:
    return sorted(
        r.envelope["payload"]["case_id"]
        for d in dossier_ids(container.store)
        for r in container.store.load(d)
        if r.type == "LegacyCaseRecorded"
    )


# --- trace names -------------------------------------------------------------------------------


@WORKERS
def test_a_trace_named_like_a_disambiguated_case_id_is_not_taken_for_it(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """Two traces `x` and one named `x (2)`, in either order: three dossiers, every event
    kept. The second `x` was imported as `x (2)`, the dossier of the trace so named, and
    skipped as already imported: its events were lost."""
    renamings = {
        ("x (2)", "x", "x"): [("x", "x (3)")],
        ("x", "x", "x (2)"): [("x", "x (2)"), ("x (2)", "x (2) (2)")],
        ("#2", "", "x"): [("", "#2 (2)")],  # a trace without a name is `#<position>`
    }
    for order, (names, renamed) in enumerate(renamings.items()):
        log = tmp_path / f"names-{order}.xes"
        log.write_text(
            HEAD
            + "".join(
                trace(name, event(f"Step {i}", f"2020-01-0{i + 1}T10:00:00+01:00"))
                for i, name in enumerate(names)
            )
            + "</log>\n",
            encoding="utf-8",
        )
        container = make_container(f"sqlite:///{tmp_path / f'names-{order}.sqlite'}")
        report = import_xes(log, cli.bulk_service(container), workers=workers)
        assert (report.dossiers_created, report.legacy, report.skipped_existing) == (3, 3, 0), names
        assert report.renamed == renamed
        assert len(set(stored_case_ids(container))) == 3
        exported = export_to(container, ExportFormat.XES, tmp_path / f"names-{order}.xes.out")
        assert sorted(e["concept:name"][1] for _t, evs in typed_traces(exported) for e in evs) == [
            "Step 0",
            "Step 1",
            "Step 2",
        ]


# --- mining on any well-formed log ---------------------------------------------------------------


def test_mining_reads_attributes_whatever_the_order_of_key_and_value(tmp_path: Path) -> None:
    """XML gives an element's attributes no order: a log writing `value` before `key`
    (either quote, spread over lines) gives the numbers PM4Py gives, not "no event has it"."""
    steps = (("Register", "Anna"), ("Check", "Binh"), ("Decide", "Anna"))

    def case(c: int) -> str:
        return trace(
            f"case-{c}",
            *(
                event(
                    name,
                    f"2020-01-0{c + 1}T{9 + i:02d}:00:00+01:00",
                    attribute("string", "org:resource", who),
                )
                for i, (name, who) in enumerate(steps)
                if c or name != "Check"
            ),
        )

    swapped = (
        (HEAD + "".join(case(c) for c in range(3)) + "</log>\n")
        .replace(
            '<string key="concept:name" value="case-1"/>', "<string value='case-1'\n key='concept:name'/>"
        )
        .replace('key="org:resource" value="Anna"', 'value="Anna" key="org:resource"')
        .replace('key="concept:name" value="Check"', 'value="Check"  key="concept:name"')
    )
    path = tmp_path / "swapped.xes"
    path.write_text(swapped, encoding="utf-8")
    for key in ("concept:name", "org:resource"):
        ours, events = edge_stats(path, key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, _seconds, read = pm4py_edge_stats(path, key)
        assert events == read == 8
        assert differences(ours, theirs) == [], key
        assert sum(s.count for s in ours.values()) == 5, key
