import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sources.csv_checks import blank, parse_number, parse_timestamp, times_by_parts


def test_timestamps_with_and_without_zone_and_garbage():
    zoned = parse_timestamp(pa.array(["2024-01-01T00:00:10Z", "2024-01-01T00:00:11.5Z"]))
    assert zoned.to_pylist() == [1704067210, 1704067211]
    naive = parse_timestamp(pa.array(["2024-01-01 00:00:10", "2024-01-01T00:00:12"]))
    assert naive.to_pylist() == [1704067210, 1704067212]
    mixed = parse_timestamp(pa.array(["2024-01-01T00:00:10Z", "yesterday", None, "2024-01-01 00:00:12"]))
    assert mixed.to_pylist() == [1704067210, None, None, 1704067212]


def test_numbers_fast_and_slow_path():
    value, ok = parse_number(pa.array(["1", "2.5", None]))
    assert value.to_pylist() == [1.0, 2.5, 0.0] and ok.to_pylist() == [True, True, False]
    value, ok = parse_number(pa.array([" 7 ", "lots", "-3"]))
    assert value.to_pylist() == [7.0, 0.0, -3.0] and ok.to_pylist() == [True, False, True]


def test_blank_ids():
    assert blank(pa.array(["a", "", "  ", None])).to_pylist() == [False, True, True, True]


_TIMES = st.builds(
    "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}{}{}".format,
    st.integers(1985, 2030), st.integers(0, 13), st.integers(0, 32), st.sampled_from(["T", " "]),
    st.integers(0, 25), st.integers(0, 61),
    st.sampled_from(["", ":00", ":59", ":60", ":07.25"]),
    st.sampled_from(["", "Z", "+05:00", "-0330", "+01", " +02:00"]))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_TIMES, min_size=1, max_size=12), st.lists(st.text(max_size=12), max_size=3))
def test_a_time_reads_the_same_in_any_batch_and_by_either_parser(times, garbage):
    """Arrow's fast cast and the cell-by-cell rule agree, and no cell's time depends on its neighbours."""
    alone = [parse_timestamp(pa.array([t]))[0].as_py() for t in times]
    assert times_by_parts(pa.array(times)).to_pylist() == alone
    assert parse_timestamp(pa.array(times)).to_pylist() == alone
    assert parse_timestamp(pa.array([*times, *garbage])).to_pylist()[:len(times)] == alone


_NUMBERS = st.one_of(
    st.builds("{}{}{}{}{}".format, st.sampled_from(["", " ", "+", "-"]),
              st.sampled_from(["", "7", "12", "0"]), st.sampled_from(["", ".", ".5"]),
              st.sampled_from(["", "e3", "E-2", "e0001", "e999"]), st.sampled_from(["", " "])),
    st.sampled_from(["inf", "-inf", "nan", "Infinity", "1_0", "0x10", "1,5", "", "abc"]),
    st.floats().map(repr))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_NUMBERS, min_size=1, max_size=10))
def test_a_number_reads_the_same_in_any_batch(cells):
    """Whether Arrow's parser takes the whole batch or the rule runs cell by cell, each cell's
    value and verdict are those it has alone."""
    value, ok = parse_number(pa.array(cells), 1e6)
    alone = [parse_number(pa.array([c, "x"]), 1e6) for c in cells]  # "x": the cell-by-cell rule
    assert ok.to_pylist() == [a[1][0].as_py() for a in alone]
    assert value.to_pylist() == [a[0][0].as_py() for a in alone]
