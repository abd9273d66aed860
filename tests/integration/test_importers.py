"""Each --format on real slices from ../shared/data and on Spotify fixtures written here;
expected counts are computed independently with the csv/json modules."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.compute as pc
import pytest

from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from adapters.sources.formats import MultiFormatSource
from application.ingest_sessions import IngestCommand, IngestSessions
from domain.errors import InvalidInputFile
from domain.identity import artist_id_from_name, normalize_genre, song_id_from_names
from domain.ports import SourceRequest
from tests.fakes import InMemoryInteractionRepository

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
HETREC = DATA / "hetrec2011-lastfm-2k"
LASTFM_1K = DATA / "lastfm-1k-head5000" / "userid-timestamp-artid-artname-traid-traname.tsv"
MSSD = DATA / "mssd-tiny-sample" / "very_small.csv"

needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside this checkout")


def ingest(path: Path, fmt: str, tmp_path: Path | None = None, **options):
    repository = InMemoryInteractionRepository()
    rejects = tmp_path / "rejects.csv" if tmp_path else None
    report = IngestSessions(MultiFormatSource(), ArrowInteractionAggregator(), repository).execute(
        IngestCommand(SourceRequest(path=path, rejects_path=rejects, options={"format": fmt, **options})))
    return report, repository


def tsv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@needs_data
def test_hetrec_artists_are_the_items_and_tags_their_genres():
    report, repository = ingest(HETREC, "lastfm-hetrec")
    rows = tsv(HETREC / "user_artists.dat")
    stats = repository.stats()
    assert (stats.users, stats.songs) == (len({r["userID"] for r in rows}), len(tsv(HETREC / "artists.dat")))
    assert (stats.users, stats.songs) == (1892, 17632)
    assert stats.interactions == len(rows) and stats.plays == sum(int(r["weight"]) for r in rows)
    assert any("items are artists" in note for note in report.notes)
    dataset = repository.load()
    artist_genres = dataset.catalogue["artist_genres"].to_pylist()
    per_artist: dict[str, int] = {}
    for pair in artist_genres:
        per_artist[pair["artist_id"]] = per_artist.get(pair["artist_id"], 0) + 1
    assert max(per_artist.values()) == 3
    tags = {r["tagID"]: r["tagValue"] for r in tsv(HETREC / "tags.dat", encoding="latin-1")}
    counts: dict[str, int] = {}
    for r in tsv(HETREC / "user_taggedartists.dat"):
        if r["artistID"] == "51":
            genre = "tag:" + normalize_genre(tags[r["tagID"]])
            counts[genre] = counts.get(genre, 0) + 1
    most_used = max(counts, key=lambda g: (counts[g], -ord(g[4])))
    assert {"artist_id": "51", "genre_id": most_used} in artist_genres


@needs_data
def test_lastfm_1k_counts_and_name_fallback():
    report, repository = ingest(LASTFM_1K, "lastfm-1k")
    with LASTFM_1K.open(encoding="utf-8") as handle:
        lines = [line.rstrip("\n").split("\t") for line in handle]
    songs = {t_mbid or song_id_from_names(a_name, t_name) for _, _, _, a_name, t_mbid, t_name in lines}
    artists = {a_mbid or artist_id_from_name(a_name) for _, _, a_mbid, a_name, _, _ in lines}
    pairs = {(u, t_mbid or song_id_from_names(a_name, t_name)) for u, _, _, a_name, t_mbid, t_name in lines}
    stats = repository.stats()
    assert (stats.users, stats.songs, stats.artists) == (len({line[0] for line in lines}), len(songs),
                                                         len(artists)) == (2, 1192, 235)
    assert (stats.plays, stats.interactions, report.rows_rejected) == (len(lines), len(pairs), 0)
    ids = repository.load().catalogue["songs"].column("song_id").to_pylist()
    assert any(i.startswith("name:") for i in ids)


@needs_data
def test_mssd_sessions_are_listeners_and_skips_set_completion():
    report, repository = ingest(MSSD, "mssd")
    with MSSD.open() as handle:
        rows = list(csv.DictReader(handle))
    expected_completion = sum(0.05 if r["skip_1"] == "True" else 0.25 if r["skip_2"] == "True"
                              else 0.75 if r["skip_3"] == "True" else 1.0 for r in rows)
    stats = repository.stats()
    assert (stats.users, stats.songs, stats.plays) == (len({r["session_id"] for r in rows}),
                                                       len({r["track_id_clean"] for r in rows}), len(rows))
    assert (stats.users, stats.songs) == (11, 175)
    interactions = repository.load().interactions
    assert pc.sum(interactions.column("completion_sum")).as_py() == pytest.approx(expected_completion)
    def played_at(row):  # dates are written DD-MM-YY in this copy
        day = datetime.strptime(row["date"], "%d-%m-%y").replace(tzinfo=timezone.utc)
        return int(day.timestamp()) + 3600 * int(row["hour_of_day"])

    assert min(interactions.column("first_played").to_pylist()) == min(played_at(r) for r in rows)
    assert any("sessions" in note for note in report.notes)


def _extended(ts, ms, artist, track, uri=None, episode=None):
    return {"ts": ts, "ms_played": ms, "master_metadata_album_artist_name": artist,
            "master_metadata_track_name": track, "spotify_track_uri": uri, "episode_name": episode,
            "reason_end": "trackdone", "skipped": None}


@pytest.fixture
def spotify_exports(tmp_path) -> Path:
    root = tmp_path / "exports"
    (root / "alice").mkdir(parents=True)
    (root / "bob").mkdir()
    (root / "alice" / "Streaming_History_Audio_2023.json").write_text(json.dumps([
        _extended("2023-01-01T10:00:00Z", 200_000, "Daft Punk", "One More Time", "spotify:track:1"),
        _extended("2023-01-02T10:00:00Z", 50_000, "Daft Punk", "One More Time", "spotify:track:1"),
        _extended("2023-01-02T11:00:00Z", 180_000, "Air", "La Femme d'Argent"),
        _extended("2023-01-03T11:00:00Z", 1_500_000, None, None, episode="Some Podcast #12"),
        _extended("2023-01-04T11:00:00Z", 0, "Air", "Sexy Boy", "spotify:track:3"),
    ]))
    (root / "bob" / "StreamingHistory0.json").write_text(json.dumps([
        {"endTime": "2023-02-01 09:30", "artistName": "AIR", "trackName": "La  Femme d'Argent",
         "msPlayed": 90_000},
        {"endTime": "2023-02-01 09:35", "artistName": "Daft Punk", "trackName": "Aerodynamic",
         "msPlayed": 212_000},
    ]))
    (root / "bob" / "StreamingHistory_podcast_0.json").write_text(json.dumps([
        {"endTime": "2023-02-02 09:30", "artistName": "A Show", "trackName": "Episode 1",
         "msPlayed": 900_000}]))
    return root


def test_spotify_exports_one_directory_per_listener(spotify_exports, tmp_path):
    report, repository = ingest(spotify_exports, "spotify-history", tmp_path)
    stats = repository.stats()
    assert (stats.users, stats.plays) == (2, 5)
    assert report.reject_reasons == {"podcast episode": 2, "zero-length play": 1}
    rows = {(r["user_id"], r["song_id"]): r for r in repository.load().interactions.to_pylist()}
    assert rows[("alice", "spotify:track:1")]["play_count"] == 2
    # completion is measured against the longest play of the same track
    assert rows[("alice", "spotify:track:1")]["completion_sum"] == pytest.approx(1.0 + 50 / 200)
    air = song_id_from_names("Air", "La Femme d'Argent")
    assert rows[("alice", air)]["completion_sum"] == pytest.approx(1.0)
    assert rows[("bob", air)]["completion_sum"] == pytest.approx(0.5)  # same song across listeners
    songs = repository.load().catalogue["songs"].to_pylist()
    assert {"song_id": air, "song_name": "La Femme d'Argent", "artist_id": artist_id_from_name("Air"),
            "duration_ms": None} in songs
    assert (tmp_path / "rejects.csv").read_text().count("podcast episode") == 2


def test_spotify_single_file_with_a_named_listener(spotify_exports):
    _, repository = ingest(spotify_exports / "bob" / "StreamingHistory0.json", "spotify-history",
                           user="robert")
    assert {r["user_id"] for r in repository.load().interactions.to_pylist()} == {"robert"}


@pytest.mark.parametrize("content", ["{not json", '{"a": 1}'])
def test_spotify_unreadable_export_is_a_whole_file_error(tmp_path, content):
    bad = tmp_path / "StreamingHistory0.json"
    bad.write_text(content)
    with pytest.raises(InvalidInputFile, match="StreamingHistory0.json"):
        ingest(bad, "spotify-history")


@needs_data
def test_artist_genre_enrichment_normalises_and_reports_coverage(tmp_path):
    genres = tmp_path / "artist_genres.csv"
    genres.write_text("artist_name,genres\nDEEP DISH,House;Progressive-House\n"
                      "坂本龍一,ambient|Modern Classical\n")
    report, repository = ingest(LASTFM_1K, "lastfm-1k", artist_genres=str(genres))
    names = sorted(repository.load().catalogue["genres"].column("genre_name").to_pylist())
    assert names == ["ambient", "house", "modern classical", "progressive house"]
    assert any("genre enrichment matched" in note for note in report.notes)
    assert repository.load().catalogue["song_genres"].num_rows > 0


@needs_data
def test_hetrec_bad_rows_are_rejected_with_reasons(tmp_path):
    copy = tmp_path / "hetrec"
    copy.mkdir()
    for name in ("artists.dat",):
        (copy / name).write_bytes((HETREC / name).read_bytes())
    (copy / "user_artists.dat").write_text(
        "userID\tartistID\tweight\n2\t51\t10\n2\t51x\t5\n3\t52\tlots\n4\t52\t0\n")
    report, repository = ingest(copy, "lastfm-hetrec", tmp_path)
    assert report.rows_read == 4 and report.rows_rejected == 3
    assert set(report.reject_reasons) == {"artistID not in artists.dat", "non-numeric or out-of-range weight",
                                          "zero or negative weight"}
    assert repository.stats().interactions == 1


def test_missing_input_is_a_whole_file_error(tmp_path):
    with pytest.raises(InvalidInputFile, match="user_artists.dat|artists.dat"):
        ingest(tmp_path, "lastfm-hetrec")
    with pytest.raises(InvalidInputFile):
        ingest(tmp_path / "nothing.csv", "mssd")
