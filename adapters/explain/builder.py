"""What an explanation says: the score's parts, the history songs the model attended to,
the genres matched and where the song stands in popularity, read from the served model."""

from __future__ import annotations

import math

import numpy as np

from adapters.explain.counterfactual import counterfactual
from adapters.explain.standing import PopularityStanding
from adapters.scoring.served import LoadedModel, ScoreParts
from domain.model import Counterfactual, Explanation

HISTORY_SHOWN = 3


def _whole_percent(share: float) -> str:
    """A share as a whole percentage, rounded down: 'more than 99.7%' must not read 100%."""
    return f"{math.floor(share * 100)}%"


class ExplanationBuilder:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.standing = PopularityStanding(loaded.popularity, loaded.song_genres)

    def _share_below(self, song: int, genres: tuple[int, ...] = ()) -> float:
        """Share of the songs (of ``genres``, when given) heard by fewer listeners than ``song``."""
        return self.standing.share_below(self.loaded.popularity[song], genres)

    def explanation(self, user: int, song: int, parts: ScoreParts, column: int,
                     attention: tuple[np.ndarray, np.ndarray] | None = None,
                     counterfactual_k: int | None = None, hours: np.ndarray | None = None) -> Explanation:
        """``parts`` holds the user's scores, the song's in ``column``; ``attention`` the
        history attention behind it, when already computed; with ``counterfactual_k``, what
        would take the song out of a top-k list (``adapters.explain.counterfactual``), ranked
        in the listener's context ``hours`` (as ``parts`` was)."""
        loaded = self.loaded
        collaborative = float(parts.collaborative[0, column])
        genre = float(parts.genre[0, column])
        final = float(parts.final[0, column])
        collaborative_term = loaded.alpha * collaborative if loaded.is_gat else final
        genre_term = (1 - loaded.alpha) * genre if loaded.is_gat else 0.0
        total = abs(collaborative_term) + abs(genre_term)
        genre_influence = abs(genre_term) / total if total else 0.0
        song_genres = loaded.song_genres.of(song).tolist()
        affinity = loaded.user_genre[user]
        matched = sorted((g for g in song_genres if affinity[g] > 0), key=lambda g: -float(affinity[g]))
        history: tuple[tuple[str, float], ...] = ()
        what_if = None
        if loaded.is_gat:
            songs, weights = attention or loaded.history_attention(user, song)
            history = tuple((loaded.song_ids[s], float(a))
                            for s, a in zip(songs[:HISTORY_SHOWN], weights[:HISTORY_SHOWN], strict=True))
            if counterfactual_k is not None:
                what_if = counterfactual(loaded, user, song, counterfactual_k,
                                         int(songs[0]) if len(songs) else None, hours)
        popularity = self.popularity_context(song, matched)
        text = self._text(song, collaborative_term, genre_term, genre_influence, history,
                          [(loaded.genre_names[g], float(affinity[g])) for g in matched], popularity)
        if what_if is not None:
            text += "\n" + self._counterfactual_text(what_if, 4 if loaded.genre_names else 3)
        return Explanation(
            collaborative_score=collaborative, genre_score=genre, final_score=final,
            matched_genres=tuple(loaded.genre_names[g] for g in matched),
            genre_influence=genre_influence, influential_history=history,
            popularity_context=popularity, text=text, counterfactual=what_if)

    def _counterfactual_text(self, what_if: Counterfactual, number: int) -> str:
        def named(song_id: str) -> str:
            return f'"{self.loaded.song_names[self.loaded.song_index[song_id]] or song_id}"'

        lines = [f"{number}. What would change it (ranked #{what_if.rank} now):"]
        if what_if.top_song is not None and what_if.rank_without_top is not None:
            top = named(what_if.top_song)
            lines.append(f"   - without {top} in your history: #{what_if.rank_without_top}")
        if what_if.rank > what_if.k:
            lines.append(f"   - it is not in your top {what_if.k} as it is")
        elif what_if.minimal_set:
            songs = ", ".join(named(s) for s in what_if.minimal_set)
            lines.append(f"   - without {songs}: out of your top {what_if.k} (#{what_if.rank_without_set})")
        else:
            lines.append(f"   - no set of your history songs takes it out of your top {what_if.k}: "
                         "it rests on your overall taste and genres")
        return "\n".join(lines)

    def popularity_context(self, song: int, matched: list[int]) -> str:
        listeners = int(self.loaded.popularity[song])
        if not listeners:
            # most of what a listener discovers next is songs nobody else played yet (83 % of
            # the 12 Spotify exports' newest finds): say so, rather than "0 listeners, 0 %"
            through = " through its artist" if self.loaded.song_artist[song] >= 0 else ""
            return f"new to the data (no listener played it in training), placed near what you play{through}"
        context = (f"heard by {listeners} listener(s) in training, "
                   f"more than {_whole_percent(self._share_below(song))} of songs")
        if matched:
            within = self._share_below(song, tuple(sorted(matched)))
            level = ("very popular" if within > 0.9 else
                     "moderately popular" if within > 0.5 else "a deeper cut")
            context += f"; {level} in your preferred genres (above {_whole_percent(within)} of them)"
        return context

    def _text(self, song: int, collaborative_term: float, genre_term: float, genre_influence: float,
              history: tuple[tuple[str, float], ...], matched: list[tuple[str, float]],
              popularity: str) -> str:
        loaded = self.loaded
        title = loaded.song_names[song] or loaded.song_ids[song]
        lines = [f'Recommending "{title}" because:']
        if loaded.is_gat:
            lines.append(f"1. Similar listening patterns ({1 - genre_influence:.0%} influence):")
            for song_id, weight in history:
                index = loaded.song_index[song_id]
                name = loaded.song_names[index] or song_id
                lines.append(f'   - because you played "{name}" (attention {weight:.2f})')
            if not history:
                lines.append("   - drawn from listeners with tastes like yours")
        else:
            lines.append("1. Popularity (100% influence): among the most played songs")
        if loaded.genre_names:
            lines.append(f"2. Genre match ({genre_influence:.0%} influence):")
            for name, affinity in matched[:3]:
                lines.append(f"   - matches your preference for {name} (affinity {affinity:.2f})")
            if not matched:
                lines.append("   - outside the genres you usually play")
        number = 3 if loaded.genre_names else 2
        lines.append(f"{number}. Popularity context: {popularity}")
        return "\n".join(lines)

