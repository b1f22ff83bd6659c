"""`bench mining`'s reader gives the same numbers whether it remembers every text and instant
it decoded or begins again after each (the bound on what it holds), and its statistics are
those of the standard library."""

from __future__ import annotations

import statistics
from array import array
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.bench import mining
from gateways.bench.mining import _stats, edge_stats

STEPS = ["Create Fine", "Send Fine", "Payment", "Add penalty", "Payment"]


def _log(path: Path) -> Path:
    traces = []
    for t in range(6):
        events = "".join(
            f'<event><string key="concept:name" value="{name}"/>'
            f'<date key="time:timestamp" value="2024-03-{1 + (i + t) // 2:02d}T00:00:00+01:00"/></event>'
            for i, name in enumerate(STEPS[: 2 + t % 4])
        )
        traces.append(f'<trace><string key="concept:name" value="A{t}"/>{events}</trace>')
    path.write_text(f'<?xml version="1.0"?><log xes.version="1.0">{"".join(traces)}</log>', encoding="utf-8")
    return path


def test_the_numbers_do_not_depend_on_what_the_reader_holds(
    scanner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _log(tmp_path / "fines.xes")
    held = edge_stats(path, "concept:name")
    monkeypatch.setattr(mining, "HELD", 1)  # begins again at every new text and instant
    assert edge_stats(path, "concept:name") == held
    stats, events = held
    assert events == sum(2 + t % 4 for t in range(6))
    assert stats[("Create Fine", "Send Fine")].count == 6  # every trace starts so
    assert stats[("Create Fine", "Send Fine")].min == 0.0  # the same day: no time between


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=40))
def test_edge_statistics_are_the_standard_librarys(values: list[float]) -> None:
    got = _stats(array("d", values))
    assert (got.count, got.min, got.max) == (len(values), min(values), max(values))
    assert got.median == statistics.median(values)
    assert got.mean == pytest.approx(statistics.fmean(values), rel=1e-12, abs=1e-9)


# Instants in the forms the compiled scan reads itself and in forms it leaves to Python.
INSTANTS = [
    "2011-10-11T13:45:40.000+02:00",
    "2011-10-11T13:45:40.123456-05:30",
    "2011-10-11T13:45:40Z",
    "2011-10-11T13:45:40",  # no offset: UTC, as PM4Py reads it
    "2024-02-29T23:59:59.999+00:00",
    "1970-01-01T00:00:00.000+01:00",
    "2011-10-11T13:45:40.1+02:00",  # one digit of a second's fraction
    "2011-10-11T13:45:40.1234567+02:00",
    "2011-10-11 13:45:40+02:00",
    "2011-10-11",
    "2011-10-11T13:45:40+0200",
    "2023-02-29T10:00:00Z",  # no such day: the event is left out
    "not an instant",
    "2011-10-11T13:45:&#52;0Z",
]


def _mixed_log(path: Path) -> Path:
    traces = []
    for t in range(12):
        name = "" if t % 4 == 0 else f'<string key="concept:name" value="case &amp; {t % 7}"/>'
        events = []
        for i in range(1 + t % 5):
            stamp = INSTANTS[(t * 3 + i) % len(INSTANTS)]
            group = ["Đội 1", "G\t2", "A &lt;b&gt;", "G&#x80;", "plain"][(t + i) % 5]
            with_group = (t + i) % 6 != 0
            events.append(
                "<event>"
                + (f'<string key="org:group" value="{group}"/>' if with_group else "")
                + f'<int key="n" value="{i}"/>'
                + (f'<date key="time:timestamp" value="{stamp}"/>' if (t + i) % 9 else "")
                + "</event>"
            )
        traces.append(f"<trace>{name}{''.join(events)}</trace>")
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n{"".join(traces)}\n</log>\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("held", [mining.HELD, 1])
def test_the_compiled_and_the_python_scan_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    path = _mixed_log(tmp_path / "mixed.xes")
    monkeypatch.setattr(mining, "HELD", held)
    from gateways.bench import _scan

    monkeypatch.setattr(mining, "SCAN", _scan.scan)
    compiled = mining._bytes_read(path, "org:group")
    monkeypatch.setattr(mining, "SCAN", mining._scan_python)
    python = mining._bytes_read(path, "org:group")
    assert compiled.cases == python.cases
    assert (compiled.events, compiled.with_key) == (python.events, python.with_key)
    # What was read: unnamed traces are cases of their own, named ones merge by name.
    assert sum(1 for case in compiled.cases if case.startswith("\x00")) == 3
    assert "case & 1" in compiled.cases
    values = {value for events in compiled.cases.values() for _, _, value in events}
    assert {"Đội 1", "G 2", "A <b>", "G\x80", None} <= values
    assert 0 < compiled.with_key < compiled.events


def test_the_compiled_scan_is_built_and_used() -> None:
    try:
        from gateways.bench import _scan
    except ImportError as exc:
        pytest.fail(f"`make install` did not build gateways/bench/_scan.c (no C compiler?): {exc}")
    assert mining.SCAN is _scan.scan


@given(
    st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 12, 31)),
    st.sampled_from([None, 0, 60, -330, 23 * 60 + 59, -(23 * 60 + 59)]),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_the_compiled_instant_is_pythons_to_the_bit(moment: datetime, offset: int | None, spec: str) -> None:
    from gateways.bench import _scan

    if offset is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    raw = moment.isoformat(timespec=spec).encode()
    assert _scan.plain_instant(raw) == mining._seconds(raw)


@given(st.text(alphabet="0123456789-:T.Z+ ", max_size=32))
def test_the_compiled_instant_reads_a_text_as_python_or_leaves_it(text: str) -> None:
    from gateways.bench import _scan

    raw = text.encode()
    assert _scan.plain_instant(raw) in (None, mining._seconds(raw))


@pytest.mark.parametrize("text", INSTANTS)
def test_each_instant_form_is_read_alike(text: str) -> None:
    from gateways.bench import _scan

    raw = text.encode()
    assert _scan.plain_instant(raw) in (None, mining._seconds(raw))


_BASE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n'
    '<trace><string key="concept:name" value="c1"/>'
    '<event><string key="org:group" value="Đội 1"/>'
    '<date key="time:timestamp" value="2020-01-01T10:00:00.000+07:00"/></event>'
    '<event><list key="l"><values><string key="org:group" value="x"/></values></list>'
    '<string key="org:group" value="G2"/><date key="time:timestamp" value="2020-01-01T11:00:00Z"/></event>'
    "</trace>\n<trace>"
    '<event><string key="org:group" value="G&amp;3"/><date key="time:timestamp" value="2020-01-02"/></event>'
    "</trace>\n</log>\n"
).encode()
_PIECES = [
    b"<event>",
    b"</event>",
    b"<trace>",
    b"</trace>",
    b'"',
    b"<",
    b">",
    b'">',
    b"</",
    b"<values>",
    b"&amp;",
    b"&#x80;",
    b"&#52;",
    b"&bogus;",
    b"\t",
    b"'",
    b"<!-- x -->",
    b'<string key="org:group" value="',
    b'<date key="time:timestamp" value="',
    b'<int key="org:group" value="1"/>',
    b'"org:group"',
    b'"time:timestamp"',
    b' value="',
    b"2021-03-04T05:06:07.123456-01:30",
    b"2021-02-29T00:00:00Z",
    b"\xc3\xa9",
    b"</log>",
    b'<string key="concept:name" value="c1"/>',
    b"/>",
]


@given(
    st.lists(
        st.tuples(st.integers(0, len(_BASE)), st.integers(0, 40), st.sampled_from(_PIECES)),
        min_size=1,
        max_size=6,
    )
)
def test_the_compiled_scan_reads_damaged_bytes_as_the_python_loop_does(
    edits: list[tuple[int, int, bytes]],
) -> None:
    # Bytes cut and spliced at random: both loops read them alike, or both refuse them.
    from gateways.bench import _scan

    data = _BASE
    for at, cut, piece in edits:
        data = data[:at] + piece + data[at + cut :]
    try:
        start = mining._body(data)
        mining._check(data, start)
    except mining._Odd:
        return  # refused before either loop runs
    keys = (
        mining._quoted("time:timestamp"),
        mining._prefixes(mining._TAGS),
        mining._quoted("concept:name"),
        mining._prefixes(mining._TEXT_TAGS),
        mining._quoted("org:group"),
        mining._prefixes(mining._TEXT_TAGS),
    )
    outcomes = []
    for scan in (_scan.scan, mining._scan_python):
        cases: dict[str, list[tuple[float, int, str | None]]] = {}
        texts: dict[bytes, str] = {}
        try:
            counts = scan(
                data, start, keys, cases, texts, 4, mining._seconds, mining._text, mining._Odd, (0, 0, 0)
            )
        except mining._Odd:
            outcomes.append("refused")
        else:
            outcomes.append((counts, cases))
    assert outcomes[0] == outcomes[1]
