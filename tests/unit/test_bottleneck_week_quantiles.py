"""A week block's p50 and p90, kept ready for the heat map, are read in one walk of its buckets
(gateways/views/bottleneck/store.py, `_p50_p90`): the same as two nearest-rank quantiles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateways.views.bottleneck.store import _p50_p90
from projections import bottleneck as b


@given(st.dictionaries(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=40)))
def test_p50_and_p90_in_one_walk_equal_two_quantiles(hist: dict[int, int]) -> None:
    """Counts as a stored histogram holds them (a sample is only taken back once added)."""
    assert _p50_p90(hist) == (b.quantile(hist, 500), b.quantile(hist, 900))
