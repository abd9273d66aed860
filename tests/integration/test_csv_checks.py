import pyarrow as pa

from adapters.sources.csv_checks import blank, parse_number, parse_timestamp


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
