"""The import's typed read of an XES log is the same with the compiled reader
(gateways/interchange/_xesread.c) as with lxml: the same traces and events at the same
positions, every typed value with its keys in the same order, the same log attributes and
the same problems counted in the same order. Logs: the real receipt log, built logs with
every form XES files take (plain and namespaced, every type, nesting, references, CDATA,
comments, stray events, bad values, keys that are no XML names, nesting too deep), the same
read a few bytes at a time and gzip-compressed, and logs drawn at random.

What the compiled reader leaves to lxml is read by lxml: a trace with a prefixed element
alone, a DOCTYPE, another encoding or a prefixed element between traces from the start (no
trace given twice or lost). A lienthong export is in
tests/integration/test_xes_compiled_export.py."""

from __future__ import annotations

import gzip
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.interchange import xes

RECEIPT = Path(__file__).parents[2].parent / "shared" / "data" / "receipt.xes"


def _compiled() -> Any:
    try:
        from gateways.interchange import _xesread
    except ImportError as exc:  # pragma: no cover - what the test is for
        pytest.fail(f"`make install` did not build gateways/interchange/_xesread.c (no C compiler?): {exc}")
    return _xesread


def ordered(value: Any) -> Any:
    """A value compared with the order of its keys and the type of its scalars (True is not 1)."""
    if isinstance(value, dict):
        return ("dict", [(k, ordered(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [ordered(v) for v in value])
    if isinstance(value, xes.XesTrace):
        events = [(ordered(e.typed), e.position) for e in value.events]
        return ("trace", ordered(value.typed), events, value.position)
    return (type(value).__name__, value)


@dataclass
class Read:
    traces: list[Any]
    attributes: Any
    problems: list[tuple[str, int]]
    error: str | None


def read(path: Path, *, compiled: bool) -> Read:
    """Every trace the log gives (up to an error, named), then its attributes and problems."""
    saved = xes._xesread
    xes._xesread = _compiled() if compiled else None
    try:
        log = xes.XesLog(path)
        traces: list[Any] = []
        error = None
        try:
            for trace in log.traces():
                traces.append(ordered(trace))
        except Exception as exc:
            error = type(exc).__name__
        return Read(traces, ordered(log.attributes), list(log.problems.items()), error)
    finally:
        xes._xesread = saved


def assert_same(path: Path) -> Read:
    got, want = read(path, compiled=True), read(path, compiled=False)
    assert got.error == want.error
    assert got.problems == want.problems
    assert got.attributes == want.attributes
    assert len(got.traces) == len(want.traces)
    for a, b in zip(got.traces, want.traces, strict=True):
        assert a == b
    return got


class Lxml:
    """Counts what lxml reads during the compiled read: traces alone, or the log again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.alone = 0
        self.again = 0
        lone, again = xes._read_trace, xes.XesLog._traces

        def alone(*args: Any) -> Any:
            self.alone += 1
            return lone(*args)

        def from_start(log: Any, source: Any) -> Iterator[Any]:
            self.again += 1
            return again(log, source)  # type: ignore[no-any-return]

        monkeypatch.setattr(xes, "_read_trace", alone)
        monkeypatch.setattr(xes.XesLog, "_traces", from_start)

    def compiled_read(self, path: Path) -> Read:
        self.alone = self.again = 0
        return read(path, compiled=True)


@pytest.fixture
def lxml_reads(monkeypatch: pytest.MonkeyPatch) -> Lxml:
    return Lxml(monkeypatch)


def test_the_compiled_reader_is_built_and_used() -> None:
    assert xes._xesread is _compiled()
    assert xes.typed_reader() == "compiled"  # what `bench import` reports


# --- the real log ---------------------------------------------------------------------------------


def test_receipt_log_reads_the_same_and_wholly_compiled(lxml_reads: Lxml) -> None:
    if not RECEIPT.exists():
        pytest.skip("the shared receipt.xes log is not next to the repository")
    got = assert_same(RECEIPT)
    assert len(got.traces) == 1434 and sum(len(t[2]) for t in got.traces) == 8577
    assert got.problems == [(xes.NOT_A_NAME, 1088)]  # and the header's nested floats, read too
    lxml_reads.compiled_read(RECEIPT)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)


# --- built logs -------------------------------------------------------------------------------------

HEAD = '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<!-- made by hand -->\n<?note before?>\n'
NAMESPACE = ' xmlns="http://www.xes-standard.org/"'


def _deep(levels: int, kind: str) -> str:
    """Attributes nested `levels` deep: containers, lists' values, or keyed scalars."""
    inner = '<int key="bottom" value="1"/>'
    for level in range(levels):
        if kind == "container":
            inner = f'<container key="c{level}">{inner}<string key="s" value="{level}"/></container>'
        elif kind == "list":
            inner = f'<list key="l{level}"><values>{inner}</values><int key="n" value="{level}"/></list>'
        else:
            inner = f'<string key="s{level}" value="{level}">{inner}</string>'
    return inner


def _values(text: str) -> list[str]:
    return text.split("|")


# Values of each type, "|" between them: plain forms, and what the schema or Python reads otherwise.
VALUES = {
    "boolean": _values("true|false|TRUE|False|1|0| true |yes||ｔrue"),
    "int": _values(
        "42|-7|+7|007|9223372036854775807|-9223372036854775808|9223372036854775808|123456789012345678|"
        "1234567890123456789|1_000| 5 |1.0||١٢٣|-|+"
    ),
    "float": _values(
        "1.5|-.5|5.|1e5|1E-3|2.5e+10|inf|-Infinity|nan|1e999|1_0.5|abc| 2.5 |1.0e+|.|0.1|e5|"
        f"3.141592653589793238462643383279|{'1' * 70}"
    ),
    "date": _values(
        "2024-03-04T09:00:00+07:00|2024-03-04T09:00:00Z|2024-03-04T09:00:00.123-05:30|"
        "2024-03-04T09:00:00.123456789+01:00|2024-03-04T09:00:00|2024-02-29T00:00:00Z|2023-02-29T00:00:00Z|"
        "2024-03-04 09:00:00+07:00|2024-03-04T09:00+07:00|2024-W10-1| 2024-03-04T09:00:00Z |"
        "0000-01-01T00:00:00Z|0001-01-01T00:00:00Z|2024-03-04T24:00:00Z|2024-03-04T09:00:00+24:00|"
        "2024-03-04T09:00:00+23:59|2024-03-04T09:00:00.Z|bogus|2024-03-04|2024-03-04T09:00:60Z|"
        "2024-13-01T00:00:00Z|20240304T090000Z"
    ),
}


def _scalars() -> str:
    return "".join(
        f'<{kind} key="{kind}-{index}" value="{value}"/>'
        for kind, values in VALUES.items()
        for index, value in enumerate(values)
    )


def kitchen(namespace: str = NAMESPACE) -> bytes:
    """A log with every form the compiled reader reads itself."""
    return (
        HEAD
        + f"<log xes.version='1.0' {namespace}>\n"
        + '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
        + '<global scope="event"><string key="concept:name" value="__INVALID__"/></global>\n'
        + '<classifier name="Activity" keys="concept:name"/>\n'
        + '<string key="concept:name" value="Kitchen &amp; sink"/>\n'
        + '<string value="a log attribute without a key"/><string key="no value"/>\n'
        + '<int key="log-int" value="x12"/><date key="log-date" value="2024-03-04"/>\n'
        + '<list key="log-list"><values><string key="a key" value="1"/></values></list>\n'
        + '<float key="spread" value="2.1"><float key="Resource14" value="1.004"/></float>\n'
        + '<event><string key="concept:name" value="before any trace"/></event>\n'
        + "<trace>\n"
        + '  <string key="concept:name" value="case 1"/>\n'
        + "  <string key='quoted' value='single \"quoted\" value'/>\n"
        + '  <string key = "spaced"\n   value = "around the equals" />\n'
        + '  <string key="refs" value="&lt;&gt;&amp;&quot;&apos; &#65;&#x1F600;&#10;&#9;&#13;&#xE9;"/>\n'
        + '  <string key="whitespace" value="tab\there, line\nfeed, cr lf\r\nand lone cr\rend"/>\n'
        + '  <string key="khóa" value="tiếng Việt"/><string key="key with space" value="x"/>\n'
        + '  <string key="" value="empty key"/><string key="1starts-with-a-digit" value="x"/>\n'
        + '  <string key="a&amp;b" value="a reference in a key"/><string key="&#x6B;ey" value="k"/>\n'
        + '  <string value="no key"/><string key="no value"/><date key="no date"/><int key="no int"/>\n'
        + '  <id key="id" value="A-1"/><id key="empty id" value=""/>\n'
        + _scalars()
        + '  <string key="with-children" value="parent"><int key="child" value="1"/>'
        + '<string value="no key: left out"/><foo/><values><int key="v" value="1"/></values>'
        + '<float key="bad child" value="x"/></string>\n'
        + '  <list key="l"><values><string key="a" value="1"/><string value="item without key"/>'
        + '<int key="a" value="2"/><foo/><values/><event/></values>'
        + '<string key="list-child" value="x"/><string value="list child without key"/><values/></list>\n'
        + '  <container key="c"><string key="x" value="1"/><string value="no key"/>'
        + '<container key="inner"><date key="d" value="2024-03-04T09:00:00Z"/></container>'
        + '<values><int key="v" value="1"/></values><foo/></container>\n'
        + '  <list key="empty-list"/><list key="list-with-value" value="ignored"></list>\n'
        + '  <container key="c-deep">'
        + _deep(40, "container")
        + "</container>\n"
        + '  <list key="l-deep"><values>'
        + _deep(40, "list")
        + "</values></list>\n"
        + '  <string key="s-deep" value="top">'
        + _deep(40, "string")
        + "</string>\n"
        + "  <!-- a comment inside a trace: <event> -->\n"
        + "  <?pi inside a trace <event>?>\n"
        + "  <![CDATA[ <event> in CDATA is text ]]>\n"
        + "  text between attributes &amp; a reference &#60;\n"
        + "  <unknown-element><event/><string key='x' value='y'/></unknown-element>\n"
        + "  <event>\n"
        + '    <string key="concept:name" value="e1"/>\n'
        + '    <date key="time:timestamp" value="2024-03-04T09:00:00+07:00"/>\n'
        + '    <event><string key="concept:name" value="an event in an event: nothing"/></event>\n'
        + "    <trace/><values/><unknown/>\n"
        + '    <string key="concept:name" value="a duplicate key: the last value, the first place"/>\n'
        + '    <int key="bad" value="twelve"/><float key="bad" value="x"/>'
        + '<boolean key="bad" value="maybe"/>\n'
        + '    <string value="no key"/><string key="key with space" value="x"/>\n'
        + "    <!-- c --><![CDATA[x]]><?pi?>\n"
        + "  </event>\n"
        + "  <event/>\n  <event></event>\n"
        + "  <event><list key='l'><values><container key='c'><string key='k' value='v'/></container>"
        + "</values></list></event>\n"
        + '  <trace><event><string key="concept:name" value="a trace in a trace"/></event></trace>\n'
        + "</trace>\n"
        + "<event>between traces</event><event/>\n"
        + "<trace/>\n<trace></trace>\n"
        + '<int key="after-the-first-trace" value="1"/>\n'
        + "<global><trace><event/></trace></global>\n"
        + '<trace><event><string key="concept:name" value="last"/></event></trace>\n'
        + "<event/><event/>\n"
        + "</log >\n<!-- after the log -->\n"
    ).encode()


REASONS = [
    *(xes.BAD_INT, xes.BAD_FLOAT, xes.BAD_BOOLEAN, xes.BAD_DATE, xes.DATE_REWRITTEN, xes.NOT_A_NAME),
    *(xes.NO_KEY, xes.NO_VALUE, xes.UNKNOWN_ELEMENT, xes.EVENT_OUTSIDE_TRACE, xes.TOO_DEEP),
]


@pytest.mark.parametrize(
    "namespace",
    [NAMESPACE, "", ' xmlns="http://code.deckfour.org/xes"'],
    ids=["standard", "plain", "openxes"],
)
def test_every_form_reads_the_same_and_wholly_compiled(
    tmp_path: Path, lxml_reads: Lxml, namespace: str
) -> None:
    path = tmp_path / "kitchen.xes"
    path.write_bytes(kitchen(namespace))
    got = assert_same(path)
    counted = dict(got.problems)
    assert all(counted.get(reason) for reason in REASONS)  # each form is in the log
    assert counted[xes.EVENT_OUTSIDE_TRACE] == 5
    assert len(got.traces) == 4
    lxml_reads.compiled_read(path)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)


@pytest.mark.parametrize("size", [1, 7, 100, 4096])
def test_a_log_read_a_few_bytes_at_a_time_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lxml_reads: Lxml, size: int
) -> None:
    path = tmp_path / "kitchen.xes"
    path.write_bytes(kitchen())
    monkeypatch.setattr(xes, "READ_BYTES", size)
    assert_same(path)
    lxml_reads.compiled_read(path)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)


def test_a_gzip_log_is_read_compiled_as_it_decompresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lxml_reads: Lxml
) -> None:
    path = tmp_path / "kitchen.xes.gz"
    path.write_bytes(gzip.compress(kitchen()))
    monkeypatch.setattr(xes, "READ_BYTES", 333)
    assert_same(path)
    lxml_reads.compiled_read(path)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)


@pytest.mark.parametrize(
    "log",
    [
        "<log/>",
        "<log></log>",
        "<log><string key='concept:name' value='no trace'/><int key='x' value='y'/><event/></log>",
        "<trace><event/><trace><string key='concept:name' value='in the root'/><event/></trace></trace>",
        "\ufeff<log><trace/></log>",
    ],
    ids=["empty-root", "no-trace", "header-without-trace", "root-trace", "bom"],
)
def test_logs_without_traces_or_with_an_odd_root_read_the_same(
    tmp_path: Path, lxml_reads: Lxml, log: str
) -> None:
    path = tmp_path / "small.xes"
    path.write_bytes(log.encode())
    assert_same(path)
    lxml_reads.compiled_read(path)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)


# --- what is left to lxml ---------------------------------------------------------------------------

PREFIXED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<log xmlns="http://www.xes-standard.org/" xmlns:x="http://www.xes-standard.org/">\n'
    '<event/><trace><string key="concept:name" value="one"/><event><int key="i" value="x"/></event></trace>\n'
    '<trace><x:string key="concept:name" value="two"/><event><x:int key="i" value="x"/></event>'
    "<x:event><string key='key with space' value='prefixed event'/></x:event></trace>\n"
    "<event/><trace><event><x:foo/><string key='concept:name' value='three'/></event></trace>\n"
    '<trace><string key="concept:name" value="four"/></trace><event/>\n'
    "</log>\n"
)


def test_a_trace_with_a_prefixed_element_is_read_alone_by_lxml(tmp_path: Path, lxml_reads: Lxml) -> None:
    path = tmp_path / "prefixed.xes"
    path.write_text(PREFIXED, encoding="utf-8")
    got = assert_same(path)
    assert [t[3] for t in got.traces] == [1, 2, 3, 4]
    assert dict(got.problems)[xes.EVENT_OUTSIDE_TRACE] == 3
    lxml_reads.compiled_read(path)
    assert (lxml_reads.alone, lxml_reads.again) == (2, 0)  # traces two and three


WHOLE = {
    "doctype": (
        '<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY who "Ward officer">]>\n'
        '<log><trace><string key="concept:name" value="&who;"/><event/></trace></log>'
    ),
    "latin-1": (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<log><trace><string key="concept:name" value="caf\xe9"/><event/></trace></log>'
    ),
    "xml-1.1": (
        '<?xml version="1.1" encoding="UTF-8"?>\n'
        '<log><trace><string key="concept:name" value="next\u0085line"/><event/></trace></log>'
    ),
    "prefixed-root": '<x:log xmlns:x="http://www.xes-standard.org/"><x:trace><x:event/></x:trace></x:log>',
    "prefixed-trace-later": (
        '<log xmlns:x="http://www.xes-standard.org/"><string key="concept:name" value="L"/>'
        '<trace><string key="concept:name" value="one"/><int key="bad" value="x"/></trace><event/>'
        '<trace><string key="concept:name" value="two"/><float key="bad" value="x"/></trace><event/>'
        '<x:trace><string key="concept:name" value="three"/><event/></x:trace>'
        '<trace><string key="concept:name" value="four"/></trace><event/></log>'
    ),
    "truncated": (
        '<log><string key="concept:name" value="L"/><trace><string key="concept:name" value="one"/></trace>'
        '<trace><string key="concept:name" value="two"/><event><string key="concept:name" value="cut'
    ),
    "nothing": "",
}


@pytest.mark.parametrize("name", list(WHOLE))
def test_what_is_odd_outside_a_trace_is_read_again_by_lxml_from_the_start(
    tmp_path: Path, lxml_reads: Lxml, name: str
) -> None:
    path = tmp_path / f"{name}.xes"
    path.write_bytes(WHOLE[name].encode("latin-1" if name == "latin-1" else "utf-8"))
    got = assert_same(path)
    positions = [t[3] for t in got.traces]
    assert positions == list(range(1, len(positions) + 1))  # none twice, none lost
    lxml_reads.compiled_read(path)
    assert lxml_reads.again == 1
    if name == "prefixed-trace-later":
        assert positions == [1, 2, 3, 4] and got.error is None
    if name == "truncated":
        assert positions == [1] and got.error == "XMLSyntaxError"


def test_a_trace_that_is_not_well_formed_is_refused_by_lxml_as_in_its_read(tmp_path: Path) -> None:
    path = tmp_path / "mismatched.xes"
    path.write_text(
        '<log><trace><string key="concept:name" value="one"/></trace><trace><event></trace></event></log>',
        encoding="utf-8",
    )
    got, want = read(path, compiled=True), read(path, compiled=False)
    assert got.error == want.error == "XMLSyntaxError"
    # lxml reads ahead, so it refuses before giving the first trace; the compiled reader gives
    # it (an import checks the whole file first, `check_xes`, and writes nothing either way)
    assert [t[3] for t in got.traces] == [1] and want.traces == []


def test_a_utf16_log_is_read_by_lxml(tmp_path: Path, lxml_reads: Lxml) -> None:
    path = tmp_path / "utf16.xes"
    path.write_bytes(
        '<?xml version="1.0" encoding="UTF-16"?><log><trace><event/></trace></log>'.encode("utf-16")
    )
    got = assert_same(path)
    assert len(got.traces) == 1
    lxml_reads.compiled_read(path)
    assert lxml_reads.again == 1


def test_a_consumer_who_stops_early_sees_the_same_counts(tmp_path: Path) -> None:
    path = tmp_path / "kitchen.xes"
    path.write_bytes(kitchen())
    counts = []
    for compiled in (True, False):
        saved = xes._xesread
        xes._xesread = _compiled() if compiled else None
        try:
            log = xes.XesLog(path)
            traces = log.traces()
            next(traces)
            next(traces)
            counts.append(list(log.problems.items()))
            traces.close()  # type: ignore[attr-defined]
        finally:
            xes._xesread = saved
    assert counts[0] == counts[1]


# --- logs drawn at random ---------------------------------------------------------------------------

TAGS = [*sorted(xes.ATTRIBUTE_TAGS), "values", "event", "trace", "foo"]
KEYS = ["concept:name", "time:timestamp", "a", "a", "khóa", "has space", "", "1x", "x.y-z", "a&b", "ü"]
POOL = [v for values in VALUES.values() for v in values] + ["", "Việt Nam", "a<b&c>\"'d", "😀", "\t x \n"]
# What an XML 1.0 document may hold: no control characters but tab, LF and CR, no surrogates.
CHARS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\ufffe\uffff",
)


def _escaped(draw: Any, text: str) -> str:
    """`text` as an attribute value in double quotes, each character written plainly where it
    may be, or as a character reference, at random."""
    out = []
    for char in text:
        forced = {"&": "&amp;", "<": "&lt;", '"': "&quot;"}.get(char)
        if forced or draw(st.integers(0, 5)) == 0:
            out.append(forced or draw(st.sampled_from([f"&#{ord(char)};", f"&#x{ord(char):X};"])))
        else:
            out.append(char)
    return "".join(out)


@st.composite
def _element(draw: Any, depth: int) -> str:
    tag = draw(st.sampled_from(TAGS))
    parts = [f"<{tag}"]
    if draw(st.booleans()):
        key = draw(st.one_of(st.sampled_from(KEYS), st.text(CHARS, max_size=5)))
        parts.append(f' key="{_escaped(draw, key)}"')
    if draw(st.integers(0, 5)):
        value = draw(st.one_of(st.sampled_from(POOL), st.text(CHARS, max_size=8)))
        parts.append(f'{draw(st.sampled_from([" ", chr(10), "  "]))}value="{_escaped(draw, value)}"')
    children = draw(st.lists(_element(depth + 1), max_size=3)) if depth < 6 else []
    if not children and draw(st.booleans()):
        return "".join(parts) + "/>"
    misc = st.sampled_from(["", "\n  ", "<!-- c -->", "<?p i?>", "<![CDATA[<event/>]]>", "t &amp; x"])
    inner = "".join(draw(misc) + child for child in children) + draw(misc)
    return "".join(parts) + ">" + inner + f"</{tag}>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_logs_drawn_at_random_read_the_same(
    data: st.DataObject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xes, "MAX_DEPTH", 3)  # nesting too deep drawn often
    monkeypatch.setattr(xes, "READ_BYTES", data.draw(st.sampled_from([5, 64, 1 << 20])))
    children = data.draw(st.lists(_element(1), max_size=8))
    namespace = data.draw(st.sampled_from(["", NAMESPACE]))
    path = tmp_path / "drawn.xes"
    path.write_text(
        f'<?xml version="1.0"?>\n<log{namespace}>' + "\n".join(children) + "</log>", encoding="utf-8"
    )
    assert_same(path)


@given(kind=st.sampled_from(sorted(VALUES)), raw=st.one_of(st.sampled_from(POOL), st.text(CHARS, max_size=9)))
@settings(max_examples=400, deadline=None)
def test_a_value_the_compiled_reader_decides_is_the_one_python_decides(kind: str, raw: str) -> None:
    """Every value through the whole reader: typed alike, counted alike."""
    body = f'<trace><event><{kind} key="k" value="{_plain_escape(raw)}"/></event></trace>'
    one = _read_text(f"<log>{body}</log>", compiled=True)
    two = _read_text(f"<log>{body}</log>", compiled=False)
    assert one == two
    if kind == "float":  # a float's value is a finite number or the text as written
        value = one[0][0][0]["k"]["value"]
        assert not isinstance(value, float) or math.isfinite(value)


def _plain_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _read_text(log: str, *, compiled: bool) -> Any:
    saved = xes._xesread
    xes._xesread = _compiled() if compiled else None
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "one.xes"
            path.write_text(log, encoding="utf-8")
            parsed = xes.XesLog(path)
            traces = [[e.typed for e in t.events] for t in parsed.traces()]
            return traces, ordered(traces), list(parsed.problems.items())
    finally:
        xes._xesread = saved
