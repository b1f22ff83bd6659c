"""The check every import makes before it writes (`check_well_formed`) refuses what the full
read refuses: the same parser (libxml2), without a tree or a call into Python per element."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gateways.interchange.xes import NotXes, check_well_formed, check_xes

LOG = '<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">{}</log>\n'
TRACE = (
    '<trace><string key="concept:name" value="c1"/>'
    '<event><string key="concept:name" value="a"/></event></trace>'
)

BROKEN = {
    "truncated": LOG.format(TRACE)[:-20],
    "mismatched": LOG.format("<trace><event></trace></event>"),
    "undefined entity": LOG.format('<trace><string key="k" value="&nope;"/></trace>'),
    "two roots": LOG.format(TRACE) + "<log/>",
    "not xml": "case,activity\nc1,a\n",
    "html": "<html><body>not a log</body></html>",
    "bad utf-8": None,
}


def _write(path: Path, name: str) -> Path:
    text = BROKEN[name]
    if text is None:
        path.write_bytes(LOG.format(TRACE).encode().replace(b"c1", b"c\xff1"))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_what_the_full_read_refuses_the_check_refuses(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / "log.xes", name)
    with pytest.raises(NotXes) as full:
        check_xes(path)
    with pytest.raises(NotXes) as quick:
        check_well_formed(path)
    # The same reason (the same parser says the same for malformed XML; a root that is not a
    # <log> is named as such by both).
    assert str(quick.value).split(":")[0] == str(full.value).split(":")[0]


def test_a_well_formed_log_passes_plain_and_compressed_and_a_damaged_gzip_does_not(tmp_path: Path) -> None:
    plain = tmp_path / "log.xes"
    plain.write_text(LOG.format(TRACE), encoding="utf-8")
    check_well_formed(plain)
    packed = tmp_path / "log.xes.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    check_well_formed(packed)
    damaged = tmp_path / "damaged.xes.gz"
    damaged.write_bytes(packed.read_bytes()[:-12])
    with pytest.raises(NotXes, match="damaged or truncated gzip"):
        check_well_formed(damaged)
    # A log without a trace is well-formed: the import refuses it once it has read none.
    empty = tmp_path / "empty.xes"
    empty.write_text(LOG.format(""), encoding="utf-8")
    check_well_formed(empty)
    with pytest.raises(NotXes, match="holds no trace"):
        check_xes(empty)
