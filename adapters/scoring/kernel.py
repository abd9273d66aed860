"""The score of a (user, song) pair, written once for every array library that scores.

Training runs it on torch tensors (with gradients: the BPR loss, the hardest negatives),
ranking and serving on numpy arrays; the functions below only use the array API standard
(through ``array_api_compat``), so both get the same arithmetic from the same lines.

A model with ``members`` independently trained copies keeps each member's ``dim`` columns
side by side (``members * dim`` columns). For member k, with z its embeddings:

- graph part: ``z_u . z_s``;
- history part: target-aware attention over the user's attended history,
  ``sum_h a_ush (z_h . z_s)`` with ``a_us = softmax_h(sharpness_k * z_h . z_s)`` over the
  history songs other than s itself (NAIS: otherwise a song would explain itself);

the collaborative score is the members' mean of graph part plus history part, and a
genre-aware model mixes in the cosine of the user's and the song's genre profiles:
``final = alpha * collaborative + (1 - alpha) * genre``.

Shapes: ``users`` rows (U, members * dim); ``candidates`` rows (U, C, members * dim) or
(1, C, members * dim) for one catalogue shared by every user; ``history`` rows
(U, H, members * dim); ``bias`` (U, H, C) is -inf at the history slots a candidate may not
attend to (padding, itself) and 0 elsewhere. History runs along the middle axis, candidates
along the last: the softmax's reductions then run over contiguous candidates, which is
several times faster than reducing a last axis of 20 history slots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from array_api_compat import array_namespace, device

Array = Any  # a numpy array or a torch tensor
# Elements of one (users x history x songs) block when a whole catalogue is scored.
CATALOGUE_BLOCK = 1_000_000


# Subtracted from the logits of a candidate whose every slot is blocked, in place of its
# peak of -inf (which would give -inf - -inf = NaN): every weight is then exp(-inf) = 0.
_FLOOR = -1e30


def blocked_slots(history: Array, history_mask: Array, candidates: Array) -> Array:
    """(U, H, C) True where candidate c of user u may not attend to history slot h: a padded
    slot, or the candidate itself. ``history`` (U, H) song indices, ``history_mask`` (U, H)
    True for real slots, ``candidates`` (U, C) or (1, C) song indices."""
    return ~history_mask[:, :, None] | (history[:, :, None] == candidates[:, None, :])


def attention_bias(blocked: Array, like: Array) -> Array:
    """What the history softmax adds to the logits: -inf where ``blocked``, else 0, in
    ``like``'s dtype (a blocked slot then gets exp(-inf) = 0)."""
    xp = array_namespace(like)
    zero = xp.zeros((), dtype=like.dtype)
    return xp.where(blocked, zero - float("inf"), zero)


def _tracked(array: Array) -> bool:
    """Whether autograd records ``array``: then no operation may overwrite a value it kept."""
    return bool(getattr(array, "requires_grad", False))


def _constant(array: Array) -> Array:
    """``array`` outside autograd's record (a torch tensor's ``detach``; numpy as it is)."""
    return array.detach() if hasattr(array, "detach") else array


def _softmax_parts(similarity: Array, bias: Array, sharpness: Any, xp: Any) -> tuple[Array, Array]:
    """The history softmax of ``sharpness * similarity + bias`` (over axis -2) as its
    numerators and their total per candidate, so that a weighted sum is divided once per
    candidate rather than every weight once; blocked slots get nothing, a candidate with no
    slot to attend to a total of 1 and nothing else.

    The block is overwritten in place where autograd allows it (allocating a fresh block per
    step costs as much as the arithmetic); the peak subtracted is a constant to autograd,
    which changes no gradient (a softmax does not move when its logits shift together)."""
    logits = similarity * sharpness
    logits += bias
    logits -= xp.maximum(xp.max(_constant(logits), axis=-2, keepdims=True), _FLOOR)
    weights = xp.exp(logits) if _tracked(logits) else xp.exp(logits, out=logits)
    total = xp.sum(weights, axis=-2, keepdims=True)
    return weights, xp.where(total > 0, total, xp.ones_like(total))


def history_attention(similarity: Array, bias: Array, sharpness: Any, xp: Any = None) -> Array:
    """Softmax over the history axis (-2) of ``sharpness * similarity``; blocked slots (bias
    -inf) get nothing and a candidate with no slot to attend to gets zeros everywhere."""
    weights, total = _softmax_parts(similarity, bias, sharpness, xp or array_namespace(similarity))
    return weights / total


def _row_products(rows: Array, candidates: Array, xp: Any) -> Array:
    """(U, C): each candidate row dotted with its user's row, as one batched product (one
    plain matrix product when every user shares one catalogue: numpy broadcasts a batch of
    one without BLAS)."""
    if candidates.shape[0] == 1:
        return xp.matmul(rows, xp.matrix_transpose(candidates[0]))
    return xp.matmul(candidates, rows[:, :, None])[..., 0]


def _similarity(history: Array, candidates: Array, xp: Any) -> Array:
    """(U, H, C): each history row dotted with each of its user's candidate rows."""
    if candidates.shape[0] == 1:
        users, slots, dim = history.shape
        flat = xp.matmul(xp.reshape(history, (users * slots, dim)), xp.matrix_transpose(candidates[0]))
        return xp.reshape(flat, (users, slots, candidates.shape[1]))
    return xp.matmul(history, xp.matrix_transpose(candidates))


def _members(users: Array, candidates: Array, history: Array, members: int, xp: Any
             ) -> Iterator[tuple[int, Array, Array]]:
    """For each member: its index, graph part (U, C) and history similarity (U, H, C)."""
    dim = candidates.shape[-1] // members
    for k in range(members):
        part = slice(k * dim, (k + 1) * dim)
        candidate, past = candidates[..., part], history[..., part]
        yield k, _row_products(users[..., part], candidate, xp), _similarity(past, candidate, xp)


def member_scores(users: Array, candidates: Array, history: Array, bias: Array,
                  sharpness: Array, members: int) -> Array:
    """Each member's collaborative score: graph part plus history part, (U, C, members);
    ``bias`` (U, H, C), or (U, H, 1) when no candidate is a history song, from
    ``attention_bias``."""
    xp = array_namespace(candidates)
    scores = []
    for k, graph, similarity in _members(users, candidates, history, members, xp):
        weights, total = _softmax_parts(similarity, bias, sharpness[k], xp)
        weighted = weights * similarity if _tracked(weights) else xp.multiply(weights, similarity,
                                                                              out=weights)
        scores.append(graph + (xp.sum(weighted, axis=-2, keepdims=True) / total)[:, 0, :])
    return xp.stack(scores, axis=-1)


def mean_attention(users: Array, candidates: Array, history: Array, bias: Array,
                   sharpness: Array, members: int) -> Array:
    """The history attention the score used, averaged over the members, (U, H, C)."""
    xp = array_namespace(candidates)
    terms = [history_attention(similarity, bias, sharpness[k], xp)
             for k, _, similarity in _members(users, candidates, history, members, xp)]
    return sum(terms[1:], terms[0]) / members


def catalogue_collaborative(user_emb: Array, song_emb: Array, attended: Array, attended_mask: Array,
                            sharpness: Array, members: int, users: Array, songs: Array) -> Array:
    """(users x songs) collaborative scores against a catalogue every user shares, in blocks
    of users; ``songs`` (1, C) song indices, ``attended`` / ``attended_mask`` every user's
    history.

    Only a user's own history songs need a history slot blocked (a song never attends to
    itself), so the catalogue is scored with the padding alone blocked, one bias per slot,
    and those few columns are then scored again as candidates of their own; that spares
    building and applying a (users x history x songs) mask."""
    xp = array_namespace(song_emb)
    candidates = song_emb[songs]
    column = xp.full((song_emb.shape[0],), -1, dtype=songs.dtype)
    column[songs[0]] = xp.arange(songs.shape[1], dtype=songs.dtype)
    step = max(1, CATALOGUE_BLOCK // max(1, attended.shape[1] * songs.shape[1]))
    blocks = []
    for start in range(0, len(users), step):
        batch = users[start:start + step]
        history, mask = attended[batch], attended_mask[batch]
        user_rows, history_rows = user_emb[batch], song_emb[history]
        padding = attention_bias(~mask[:, :, None], song_emb)
        scores = xp.mean(member_scores(user_rows, candidates, history_rows, padding, sharpness, members),
                         axis=-1)
        own = attention_bias(blocked_slots(history, mask, history), song_emb)
        own_scores = xp.mean(member_scores(user_rows, history_rows, history_rows, own, sharpness, members),
                             axis=-1)
        offered = mask & (column[history] >= 0)
        rows = xp.broadcast_to(xp.arange(history.shape[0], dtype=songs.dtype)[:, None], history.shape)
        scores[rows[offered], column[history][offered]] = own_scores[offered]
        blocks.append(scores)
    return xp.concat(blocks, axis=0) if blocks else xp.zeros((0, songs.shape[1]), dtype=song_emb.dtype)


def candidate_collaborative(user_emb: Array, song_emb: Array, attended: Array, attended_mask: Array,
                            sharpness: Array, members: int, users: Array, candidates: Array) -> Array:
    """(users x m) collaborative scores of each user's own ``candidates`` (users x m song
    indices), in blocks of users: the second stage of a two-stage ranking."""
    xp = array_namespace(song_emb)
    step = max(1, CATALOGUE_BLOCK // max(1, attended.shape[1] * candidates.shape[1]))
    blocks = []
    for start in range(0, len(users), step):
        batch, mine = users[start:start + step], candidates[start:start + step]
        history = attended[batch]
        bias = attention_bias(blocked_slots(history, attended_mask[batch], mine), song_emb)
        blocks.append(xp.mean(member_scores(user_emb[batch], song_emb[mine], song_emb[history], bias,
                                            sharpness, members), axis=-1))
    return (xp.concat(blocks, axis=0) if blocks
            else xp.zeros((0, candidates.shape[1]), dtype=song_emb.dtype))


def genre_similarity(user_genres: Array, candidate_slots: Array, candidate_weights: Array) -> Array:
    """(U, C) cosine of unit genre profiles, read from the songs' genre slots (no songs x
    genres matrix): ``user_genres`` (U, G + 1) unit rows with a zero last column, which the
    padding slots read; each candidate's slots (U or 1, C, W) and unit weight (U or 1, C),
    ``adapters.common.song_genres``."""
    xp = array_namespace(user_genres)
    n, width = user_genres.shape
    offsets = xp.reshape(xp.arange(n, device=device(user_genres)) * width, (n, 1, 1))
    index = xp.reshape(xp.astype(candidate_slots, xp.int64) + offsets, (-1,))
    gathered = xp.take(xp.reshape(user_genres, (-1,)), index, axis=0)
    shape = (n, candidate_slots.shape[1], candidate_slots.shape[2])
    return xp.sum(xp.reshape(gathered, shape), axis=-1) * candidate_weights


def final_scores(collaborative: Array, genre: Array | None, alpha: float) -> Array:
    """The ranked score; without a genre term (``alpha`` 1) the collaborative score."""
    if genre is None or alpha == 1.0:
        return collaborative
    return alpha * collaborative + (1 - alpha) * genre
