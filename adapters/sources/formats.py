"""One SessionSource for every input format; ``--artist-genres`` applies to any of them."""

from __future__ import annotations

from pathlib import Path

from adapters.sources.enrichment import GenreEnrichedFeed
from adapters.sources.lastfm_1k import Lastfm1kSource
from adapters.sources.lastfm_hetrec import LastfmHetrecSource
from adapters.sources.mssd import MssdSource
from adapters.sources.seed_csv import SeedCsvSource
from adapters.sources.spotify_history import SpotifyHistorySource
from domain.errors import InvalidSetting
from domain.ports import SOURCE_FORMATS, SessionFeed, SessionSource, SourceRequest

FORMATS: dict[str, type[SessionSource]] = {
    "seed": SeedCsvSource,
    "spotify-history": SpotifyHistorySource,
    "lastfm-1k": Lastfm1kSource,
    "lastfm-hetrec": LastfmHetrecSource,
    "mssd": MssdSource,
}
assert tuple(FORMATS) == SOURCE_FORMATS


class MultiFormatSource(SessionSource):
    def open(self, request: SourceRequest) -> SessionFeed:
        name = request.options.get("format") or "seed"
        if name not in FORMATS:
            raise InvalidSetting(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
        feed = FORMATS[name]().open(request)
        artist_genres = request.options.get("artist_genres")
        return GenreEnrichedFeed(feed, Path(artist_genres)) if artist_genres else feed
