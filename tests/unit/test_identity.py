import pyarrow as pa

from adapters.sources.identity import artist_ids_from_names, normalize_genres, song_ids_from_names
from domain.identity import artist_id_from_name, normalize_genre, song_id_from_names

NAMES = ["  Daft  Punk ", "DAFT PUNK", "Sigur Rós", "ＢＴＳ", "Hip-Hop", "drum_and_bass", "坂本龍一"]


def test_the_same_song_gets_the_same_id_however_it_is_written():
    assert song_id_from_names("  Daft  Punk ", "One More Time") == song_id_from_names("daft punk",
                                                                                      "ONE MORE  TIME")
    assert artist_id_from_name("ＢＴＳ") == artist_id_from_name("bts")
    assert normalize_genre("Hip-Hop") == normalize_genre("hip hop") == "hip hop"


def test_vectorised_rules_equal_the_domain_rules():
    column = pa.array(NAMES)
    assert artist_ids_from_names(column).to_pylist() == [artist_id_from_name(n) for n in NAMES]
    assert normalize_genres(column).to_pylist() == [normalize_genre(n) for n in NAMES]
    titles = pa.array(list(reversed(NAMES)))
    assert song_ids_from_names(column, titles).to_pylist() == [
        song_id_from_names(a, t) for a, t in zip(NAMES, reversed(NAMES), strict=True)]
