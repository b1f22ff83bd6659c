"""`bench mining` gives PM4Py's numbers on well-formed logs of any shape: the byte reader
reads the usual shape, and every other shape (prefixes, nested attributes, comments, DTDs,
a key written twice…) is read with lxml as PM4Py reads it. A file PM4Py refuses is refused
with a message."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from gateways.bench.mining import _bytes_read, differences, edge_stats, pm4py_edge_stats, read_log
from gateways.bench.mining_lxml import UnreadableLog
from gateways.bench.mining_lxml import lxml_read as _lxml_read

KEY = "org:group"
T = (
    "2020-01-01T10:00:00+00:00",
    "2020-01-01T11:00:00+00:00",
    "2020-01-01T12:30:00+00:00",
    "2020-01-01T14:00:00Z",
)
OPENXES = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- This file has been generated with the OpenXES library. -->
<log xes.version="1.0" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<global scope="event">
\t\t<string key="org:group" value="UNKNOWN"/>
\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000+01:00"/>
\t</global>
\t<classifier name="Group classifier" keys="org:group"/>
\t<float key="meta:groups" value="4.13">
\t\t<float key="Group 1" value="1.0"/>
\t</float>
"""


def event(group: str, at: str, before: str = "", name: str = "A") -> str:
    return (
        f'<event>{before}<string key="concept:name" value="{name}"/>'
        f'<string key="org:group" value="{group}"/><date key="time:timestamp" value="{at}"/></event>'
    )


def log(*traces: tuple[str, list[str]], head: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> str:
    body = "".join(f'<trace><string key="concept:name" value="{n}"/>{"".join(e)}</trace>' for n, e in traces)
    return f'{head}<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n{body}\n</log>\n'


PLAIN = log(
    ("c1", [event("G1", T[0]), event("G2", T[1]), event("G1", T[2])]),
    ("c2", [event("G1", T[0]), event("G2", T[3])]),
)
NESTED = '<string key="note" value="x"><string key="org:group" value="NESTED"/></string>'
LATE_NAME = log(
    ("c1", [event("G1", T[0]), event("G2", T[1])]), ("c2", [event("G1", T[0]), event("G2", T[2])])
)
for case in ("c1", "c2"):
    LATE_NAME = LATE_NAME.replace(f'<trace><string key="concept:name" value="{case}"/>', "<trace>", 1)
LATE_NAME = LATE_NAME.replace("</event></trace>", '</event><string key="concept:name" value="same"/></trace>')

# Each shape: the log's text, and the reader that reads it.
SHAPES: dict[str, tuple[str, str]] = {
    "prefixed": (
        PLAIN.replace('xmlns="', 'xmlns:xes="')
        .replace("<", "<xes:")
        .replace("<xes:/", "</xes:")
        .replace("<xes:?xml", "<?xml"),
        "lxml",
    ),
    # Nested before the event's own attribute: the last of the key is the event's own.
    "nested before": (log(("c1", [event("G1", T[0], NESTED), event("G2", T[1])])), "bytes"),
    "nested after": (
        log(("c1", [event("G1", T[0]).replace("</event>", NESTED + "</event>"), event("G2", T[1])])),
        "lxml",
    ),
    "in a list": (
        log(
            (
                "c1",
                [
                    event(
                        "G1",
                        T[0],
                        '<list key="l"><values><string key="org:group" value="L"/></values></list>',
                    ),
                    event("G2", T[1]),
                ],
            )
        ),
        "bytes",
    ),
    "in a container": (
        log(
            (
                "c1",
                [
                    event("G1", T[0]).replace(
                        "</event>",
                        '<container key="c"><string key="org:group" value="C"/></container></event>',
                    ),
                    event("G2", T[1]),
                ],
            )
        ),
        "lxml",
    ),
    "a key twice": (
        log(("c1", [event("LAST", T[0], '<string key="org:group" value="FIRST"/>'), event("G2", T[1])])),
        "bytes",
    ),
    "spaces around =": (PLAIN.replace('key="org:group" value=', 'key = "org:group" value = '), "lxml"),
    "value first": (PLAIN.replace('key="org:group" value="G2"', "value='G2' key='org:group'"), "lxml"),
    "tab, line break": (
        log(
            ("c1", [event("G\t1", T[0]), event("G2", T[1])]),
            ("c2", [event("G\r\n1", T[0]), event("G2", T[1])]),
            ("c3", [event("G 1", T[0]), event("G2", T[2])]),
        ),
        "bytes",
    ),
    "character references": (log(("c1", [event("G&#x80;&#9;&amp;", T[0]), event("G&#50;", T[1])])), "bytes"),
    "DTD entity": (
        log(
            ("c1", [event("&g;", T[0]), event("G2", T[1])]),
            head='<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY g "Group 1">]>\n',
        ),
        "lxml",
    ),
    "commented event": (
        log(("c1", [event("G1", T[0]), "<!-- " + event("GX", T[1]) + " -->", event("G2", T[2])])),
        "lxml",
    ),
    "trace named after its events": (LATE_NAME, "lxml"),
    "numbers as the key": (
        log(
            (
                "c1",
                [
                    event("5", T[0]).replace('<string key="org:group"', '<int key="org:group"'),
                    '<event><date key="time:timestamp" value="2020-01-01T10:30:00Z"/></event>',
                    event("6", T[1]).replace('<string key="org:group"', '<int key="org:group"'),
                    event("7", T[2]).replace('<string key="org:group"', '<int key="org:group"'),
                ],
            )
        ),
        "lxml",
    ),
    "apostrophes, ampersands": (
        log(("c1", [event("Don't &amp; &lt;co&gt;", T[0]), event("O'Brien", T[1]), event("G1", T[2])])),
        "bytes",
    ),
    "OpenXES header": (OPENXES + PLAIN.split("\n", 2)[2], "bytes"),
}


def _pm4py(path: Path) -> dict:
    pytest.importorskip("pm4py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm4py_edge_stats(path, KEY)[0]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_gives_pm4pys_numbers(shape: str, scanner: str, tmp_path: Path) -> None:
    text, reader = SHAPES[shape]
    path = tmp_path / "odd.xes"
    path.write_bytes(text.encode("utf-8"))
    theirs = _pm4py(path)
    ours, _events = edge_stats(path, KEY)
    assert theirs, shape  # a log with edges: agreeing on nothing proves nothing
    assert differences(ours, theirs) == [], shape
    assert read_log(path, KEY).reader == reader, shape


def test_the_usual_shape_is_read_from_the_bytes_as_lxml_reads_it(scanner: str, tmp_path: Path) -> None:
    path = tmp_path / "openxes.xes"
    traces = [
        (
            f"case-{t}",
            [
                event(f"Group {(t + i) % 3}", f"2011-10-{1 + i:02d}T0{t % 9}:00:00.000+02:00")
                for i in range(1 + t % 5)
            ],
        )
        for t in range(40)
    ]
    path.write_text(OPENXES + log(*traces).split("\n", 2)[2], encoding="utf-8")
    fast = _bytes_read(path, KEY)
    assert fast.reader == "bytes"
    assert fast.cases == _lxml_read(path, KEY).cases
    assert differences(edge_stats(path, KEY)[0], _pm4py(path)) == []


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_a_file_pm4py_refuses_is_refused_with_a_message(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / f"{encoding}.xes"
    text = PLAIN.replace("G1", "Gé").replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    path.write_bytes(text.encode(encoding))
    with pytest.raises(UnreadableLog, match=path.name):
        edge_stats(path, KEY)
    with pytest.raises(Exception):  # noqa: B017 (PM4Py's own error: lxml's)
        _pm4py(path)


def test_an_event_outside_a_trace_is_refused_as_pm4py_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "outside.xes"
    path.write_text(
        PLAIN.replace("</trace><trace>", "</trace>" + event("GZ", T[3]) + "<trace>", 1), encoding="utf-8"
    )
    with pytest.raises(UnreadableLog, match="inside another event"):
        edge_stats(path, KEY)
    with pytest.raises(SyntaxError):
        _pm4py(path)
