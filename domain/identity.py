"""Stable identities for sources that name songs instead of numbering them.

The same rules run vectorised in ``adapters.sources.identity``; tests keep both equal.

- A name is normalised by Unicode NFKC, lower-casing, trimming and collapsing runs of
  white space into one space.
- A genre name is normalised the same way, with '-' and '_' read as spaces
  ("Hip-Hop" and "hip hop" are one genre).
- A song known only by artist and title gets the id ``name:<artist> | <title>``
  of the normalised names; an artist the id ``name:<artist>``. Ids stay
  readable and equal across files and sources.
"""

from __future__ import annotations

import re
import unicodedata

NAME_ID_PREFIX = "name:"
SONG_KEY_SEPARATOR = " | "


def normalize_name(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def normalize_genre(text: str) -> str:
    return normalize_name(re.sub(r"[-_]", " ", text))


def artist_id_from_name(artist: str) -> str:
    return NAME_ID_PREFIX + normalize_name(artist)


def song_id_from_names(artist: str, title: str) -> str:
    return NAME_ID_PREFIX + normalize_name(artist) + SONG_KEY_SEPARATOR + normalize_name(title)
