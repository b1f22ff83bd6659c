"""The bottleneck view sums each (subject, day) into every block of days that holds it: subject
by subject, size by size from the one below (gateways/views/bottleneck/store.py), sharing a
block's only part, equals day by day."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateways.views.bottleneck.store import _by_subject, _pyramid
from projections import bottleneck as b

_SUBJECTS = [
    b.Subject(b.Kind.AGENCY, "A"),
    b.Subject(b.Kind.EDGE, "A", "B"),
    b.Subject(b.Kind.STEP, "B", "P", 2),
]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_SUBJECTS),
            st.integers(min_value=45_000, max_value=46_500),
            st.sampled_from(b.SUM_FIELDS),
            st.integers(min_value=-3, max_value=5),
            st.integers(min_value=0, max_value=10**8),
        ),
        max_size=40,
    )
)
def test_blocks_summed_size_by_size_equal_the_days_added_to_each_block(
    facts: list[tuple[b.Subject, int, str, int, int]],
) -> None:
    totals = b.Totals()
    for subject, day, name, amount, working_ms in facts:
        if name in b.COUNTERS:
            totals.tally(subject, day, name, amount)
        else:
            totals.sample(subject, day, working_ms, working_ms // 2, 1 if amount >= 0 else -1)
    expected: dict[tuple[b.Subject, int, int], list[int]] = {}
    expected_hists: dict[tuple[b.Subject, int, int], dict[int, int]] = {}
    for (subject, day), vector in totals.sums.items():
        for span, start in b.blocks_of(day):
            block = expected.setdefault((subject, span, start), [0] * len(vector))
            for i, x in enumerate(vector):
                block[i] += x
            for bucket, n in totals.hists.get((subject, day), {}).items():
                hist = expected_hists.setdefault((subject, span, start), {})
                hist[bucket] = hist.get(bucket, 0) + n
    blocks: dict[tuple[b.Subject, int, int], list[int]] = {}
    hists: dict[tuple[b.Subject, int, int], dict[int, int]] = {}
    for subject, days in _by_subject(totals).items():
        vectors, subject_hists = _pyramid(*days)
        blocks.update({(subject, span, start): v for (span, start), v in vectors.items()})
        hists.update({(subject, span, start): h for (span, start), h in subject_hists.items()})
    assert blocks == expected
    assert {k: h for k, h in hists.items() if h} == {k: h for k, h in expected_hists.items() if h}
