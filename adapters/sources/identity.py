"""``domain.identity`` rules on Arrow columns."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from domain.identity import NAME_ID_PREFIX, SONG_KEY_SEPARATOR


def normalize_names(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    text = pc.utf8_lower(pc.utf8_normalize(column, form="NFKC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))


def normalize_genres(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return normalize_names(pc.replace_substring_regex(column, r"[-_]", " "))


def artist_ids_from_names(artists: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.binary_join_element_wise(NAME_ID_PREFIX, normalize_names(artists), "")


def song_ids_from_names(artists: pa.Array | pa.ChunkedArray, titles: pa.Array | pa.ChunkedArray
                        ) -> pa.Array:
    return pc.binary_join_element_wise(NAME_ID_PREFIX, normalize_names(artists), SONG_KEY_SEPARATOR,
                                       normalize_names(titles), "")
