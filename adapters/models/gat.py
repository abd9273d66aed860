"""Graph Attention Network recommenders on the heterogeneous listening graph.

The forward pass gives each user's and song's embeddings and each user's attended history;
the score of a (user, song) pair is ``adapters.scoring.kernel``'s (a graph part and a
target-aware attention over the user's history, NAIS / DIN style, read over the same
listening edges), called here on tensors, with gradients when training.

The history part is what explanations show: the songs the model attended to when it
scored this song, with the weights it used. Because attention rises with the
similarity it averages, taking the most attended song away lowers that average, so
the explanation names what actually carried the score (``engine evaluate`` checks it by
deleting edges).

With ``members`` > 1 a model is an ensemble of that many independently initialised copies,
each trained on its own loss; scores, and the attention explanations show, are the members'
means.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv

from adapters.graph.neighbourhoods import Neighbourhood
from adapters.graph.pyg_builder import HISTORY, LISTENS, PERFORMS, PREFERS, GraphBundle
from adapters.models.attention_sum import EdgeOrders, attention_sum, destination_softmax
from adapters.models.base import GraphRecommender
from adapters.scoring import kernel
from domain.context import HOURS_OF_WEEK

Relation = tuple[str, str, str]
WEIGHTED = {LISTENS, HISTORY, PREFERS, ("genre", "rev_prefers", "user")}
# Only messages into users and songs reach the scores of a one-layer model.
COLLABORATIVE = (LISTENS, HISTORY, PERFORMS)
# How many of a user's songs (most played first) the target-aware attention reads: bounds
# the cost of a training step for heavy listeners.
ATTENDED_HISTORY = 20
# The row tables of forward's output a loss reads: the final embeddings and the inputs the
# L2 term reads, of users and of songs.
ROW_TABLES = ("user", "user_input", "song", "song_input")


def node_kind(table: str) -> str:
    """The node kind ("user" or "song") whose rows a row table holds."""
    return table.split("_")[0]


class ScalarWeightGATConv(GATConv):
    """GATConv, with its attention logits and weighted sum written for this graph's sizes.

    GATConv projects each edge's weight to heads x channels and dots it with ``att_edge``: for
    a weight of one dimension that is the weight times one number per head, computed here
    once per head instead of once per edge (the same parameters, the same attention; the
    projection was a third of a training step's message passing on a 10x set). Its messages
    are summed by ``attention_sum``, as sparse products over the relation's edges in
    destination order, which it sorts once for as long as it is given the same edge tensor
    (a full-graph run's whole training). Both methods replace the
    ones PyG would generate from templates (which it writes as files into the temporary
    directory of every process)."""

    def edge_updater(self, edge_index: torch.Tensor, alpha: tuple[torch.Tensor, torch.Tensor | None],
                     edge_attr: torch.Tensor | None = None, size: Any = None) -> torch.Tensor:
        """Each edge's attention (edges x heads): the softmax over a destination's edges of
        the leaky ReLU of source, destination and edge-weight logits."""
        alpha_src, alpha_dst = alpha
        src, dst = edge_index
        logits = alpha_src.index_select(0, src)
        if alpha_dst is not None:
            logits = logits + alpha_dst.index_select(0, dst)
        if edge_attr is not None and self.lin_edge is not None:
            per_head = (self.lin_edge.weight.view(self.heads, self.out_channels)
                        * self.att_edge.view(self.heads, self.out_channels)).sum(-1)
            logits = logits + edge_attr.view(-1, 1) * per_head
        logits = F.leaky_relu(logits, self.negative_slope)
        orders = self._edge_orders_for(edge_index, alpha_src.size(0), self._destinations(alpha, size))
        return F.dropout(destination_softmax(logits, orders), p=self.dropout, training=self.training)

    def propagate(self, edge_index: torch.Tensor, x: tuple[torch.Tensor, torch.Tensor | None],
                  alpha: torch.Tensor, size: Any = None) -> torch.Tensor:
        orders = self._edge_orders_for(edge_index, x[0].size(0), self._destinations(x, size))
        return attention_sum(alpha, x[0], orders)

    def _edge_orders_for(self, edge_index: torch.Tensor, n_src: int, n_dst: int) -> EdgeOrders:
        orders: EdgeOrders | None = getattr(self, "_edge_orders", None)
        if orders is None or not orders.serve(edge_index, n_src, n_dst):
            orders = self._edge_orders = EdgeOrders(edge_index, n_src, n_dst)
        return orders

    @staticmethod
    def _destinations(per_node: tuple[torch.Tensor, torch.Tensor | None], size: Any) -> int:
        if size is not None:
            return int(size[1])
        source, destination = per_node
        return int((destination if destination is not None else source).size(0))


class HeteroGATLayer(nn.Module):
    """One GATConv per relation; messages into a node type are summed over relations.

    Listening and preference edges carry their weight (edge_weight, affinity) into
    the attention logits, which is what makes the attention weight-aware. Dropout
    is applied to node features by the models; attention dropout (off by default)
    costs a third of a training step on the CPU for no measured gain.
    """

    def __init__(self, relations: tuple[Relation, ...], in_dim: int, out_dim: int, heads: int,
                 concat: bool, attention_dropout: float = 0.0) -> None:
        super().__init__()
        self.relations = relations
        self.convs = nn.ModuleDict({
            "__".join(rel): ScalarWeightGATConv((in_dim, in_dim), out_dim, heads=heads, concat=concat,
                                    dropout=attention_dropout, add_self_loops=False,
                                    edge_dim=1 if rel in WEIGHTED else None)
            for rel in relations})

    def forward(self, x: dict[str, torch.Tensor], graph: Any
                ) -> tuple[dict[str, torch.Tensor], dict[Relation, torch.Tensor]]:
        out: dict[str, torch.Tensor] = {}
        attention: dict[Relation, torch.Tensor] = {}
        for rel in self.relations:
            src, _, dst = rel
            store = graph[rel]
            edge_attr = store.edge_attr if rel in WEIGHTED else None
            h, (_, alpha) = self.convs["__".join(rel)](
                (x[src], x[dst]), store.edge_index, edge_attr=edge_attr, return_attention_weights=True)
            out[dst] = h if dst not in out else out[dst] + h
            attention[rel] = alpha
        return out, attention


def attended_history(data: Any, n_users: int, limit: int = ATTENDED_HISTORY
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each user's ``limit`` heaviest history songs (edge weight, then song index), padded:
    (users x width song indices, users x width mask), width = min(limit, longest history)."""
    store = data[HISTORY]
    songs, users = store.edge_index
    weight = store.edge_attr.view(-1)
    order = torch.argsort(songs, stable=True)
    order = order[torch.argsort(-weight[order], stable=True)]
    order = order[torch.argsort(users[order], stable=True)]
    users, songs = users[order], songs[order]
    counts = torch.bincount(users, minlength=n_users)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(users), device=users.device) - starts[users]
    keep = rank < limit
    width = int(min(limit, int(counts.max()) if len(counts) else 0))
    attended = torch.zeros((n_users, max(width, 1)), dtype=torch.long, device=users.device)
    mask = torch.zeros_like(attended, dtype=torch.bool)
    attended[users[keep], rank[keep]] = songs[keep]
    mask[users[keep], rank[keep]] = True
    return attended, mask


class _GATRecommender(GraphRecommender):
    """What both GAT models share: ``members`` independent copies of the model (own input
    embeddings, GAT branch and attention sharpness; ``dim`` dimensions each, side by side in
    one table) whose scores are averaged. Each member is trained on its own BPR loss, so the
    average is an ensemble of independently initialised models, and a song's history part is
    the members' mean of their own attention-weighted similarities."""

    node_types: tuple[str, ...] = ()
    # how many hops of messages reach a score, and over which relations (what a sampled
    # neighbourhood must hold)
    message_layers = 1
    message_relations: tuple[Relation, ...] = COLLABORATIVE

    def __init__(self, bundle: GraphBundle, dim: int, members: int, context: bool) -> None:
        super().__init__(bundle)
        self.dim, self.members = dim, members
        self.embeddings = nn.ModuleDict({
            t: nn.Embedding(bundle.data[t].num_nodes, members * dim) for t in self.node_types})
        # listening context: an hour-of-day and a day-of-week row added to the user's side
        # (their sum is the hour of the week's); zero at first, so training starts from the
        # model without context
        self.context = (nn.ModuleDict({"hour": nn.Embedding(24, members * dim),
                                       "day": nn.Embedding(7, members * dim)}) if context else None)
        # log of each member's target-aware attention sharpness; learned
        self.log_sharpness = nn.Parameter(torch.zeros(members))
        # each member's GAT attention of the last forward pass, kept as is: only
        # ``history_attention`` reads it, so averaging it is left to that reader
        self.last_attention: list[dict[Relation, torch.Tensor]] = []

    def reset_parameters(self) -> None:
        for embedding in self.embeddings.values():
            nn.init.normal_(embedding.weight, std=0.1)
        for embedding in (self.context or {}).values():
            nn.init.zeros_(embedding.weight)
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters") and not isinstance(
                    module, nn.Embedding):
                module.reset_parameters()

    def hours_of_week(self) -> torch.Tensor:
        """The context row of each hour of the week, (168, members * dim)."""
        assert self.context is not None
        hours = torch.arange(HOURS_OF_WEEK, device=self.log_sharpness.device)
        return self.context["hour"](hours % 24) + self.context["day"](hours // 24)

    def context_rows(self, hours: torch.Tensor) -> torch.Tensor:
        """The context's rows for hours of the week, shaped hours.shape x (members * dim);
        an unknown hour (-1) takes the mean of the week's (any time), which is also what the
        exported model answers with when no time is asked for."""
        every = self.hours_of_week()
        rows = every.index_select(0, hours.clamp(min=0).reshape(-1)).view(*hours.shape, -1)
        return torch.where((hours >= 0).unsqueeze(-1), rows, every.mean(0))
    def inputs(self) -> dict[str, torch.Tensor]:
        return {t: e.weight for t, e in self.embeddings.items()}

    def member_slice(self, rows: torch.Tensor, member: int) -> torch.Tensor:
        """One member's columns of ``(..., members * dim)`` embeddings."""
        return rows[..., member * self.dim:(member + 1) * self.dim]

    def per_member(self, rows: torch.Tensor) -> torch.Tensor:
        """``(..., members * dim)`` embeddings as ``(..., members, dim)``."""
        return rows.view(*rows.shape[:-1], self.members, self.dim)

    def forward(self, sample: Neighbourhood | None = None) -> dict[str, torch.Tensor]:
        """Final user and song embeddings (each member's ``readout`` of its input and its GAT
        output, side by side), their inputs (``user_input``, ``song_input``) and each user's
        attended history (``attended``: users x ATTENDED_HISTORY song indices,
        ``attended_mask`` marking the real ones), read off the current graph; with ``sample``,
        only its nodes' rows from its subgraph, in its local order (``user_of`` / ``song_of``
        map a global index to its row)."""
        x, graph = self.inputs(), self.bundle.data
        if sample is not None:
            x = {t: v.index_select(0, sample.nodes[t]) for t, v in x.items()}
            graph = sample.graph
        outputs: dict[str, list[torch.Tensor]] = {"user": [], "song": []}
        attention_kept: list[dict[Relation, torch.Tensor]] = []
        for k, branch in enumerate(self.branches):
            member_x = {t: self.member_slice(v, k).contiguous() for t, v in x.items()}
            h, attention = branch(member_x, graph)
            attention_kept.append({rel: alpha.detach() for rel, alpha in attention.items()})
            for t, parts in outputs.items():
                parts.append(branch.readout(member_x[t], h[t]))
        if sample is None:  # what explanations read is the whole graph's attention
            self.last_attention = attention_kept
        z = {t: parts[0] if len(parts) == 1 else torch.cat(parts, 1) for t, parts in outputs.items()}
        # the input rows the loss's L2 reads, in the same order as the outputs
        z["user_input"], z["song_input"] = x["user"], x["song"]
        z["attended"], z["attended_mask"] = self.attended_songs()
        if sample is not None:
            z["user_of"], z["song_of"] = sample.local["user"], sample.local["song"]
        return z

    def attended_songs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``attended_history`` of the bound graph, recomputed only when the graph is swapped."""
        data = self.bundle.data
        if getattr(self, "_attended_for", None) is not data:
            self._attended = attended_history(data, data["user"].num_nodes)
            self._attended_for = data
        return self._attended

    @property
    def sharpness(self) -> torch.Tensor:
        """Each member's attention sharpness, ``(members,)``."""
        return self.log_sharpness.exp()

    def _gathered(self, z: dict[str, torch.Tensor], users: torch.Tensor, candidates: torch.Tensor,
                  hours: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The kernel's inputs for ``candidates`` (users x m song indices): user, candidate and
        history rows and the attention bias of the blocked history slots; each user's row in
        its context (``hours``) for a model that learns one. index_select because its backward
        is far cheaper on the CPU than advanced indexing's."""
        history = z["attended"].index_select(0, users)
        blocked = kernel.blocked_slots(history, z["attended_mask"].index_select(0, users), candidates)
        songs = z["song"]
        candidate_rows = self.rows_of(z, "song", candidates.reshape(-1)).view(*candidates.shape, -1)
        history_rows = self.rows_of(z, "song", history.view(-1)).view(*history.shape, -1)
        user_rows = self.rows_of(z, "user", users)
        if hours is not None and self.context is not None:
            user_rows = user_rows + self.context_rows(hours)
        return user_rows, candidate_rows, history_rows, kernel.attention_bias(blocked, songs)

    @staticmethod
    def rows_of(z: dict[str, torch.Tensor], table: str, index: torch.Tensor) -> torch.Tensor:
        """Rows of ``z[table]`` ("user", "song", "user_input" or "song_input") for global node
        indices; a pass over part of the graph holds only some rows, and ``user_of`` /
        ``song_of`` say where each global index's row is."""
        of = z.get(node_kind(table) + "_of")
        return z[table].index_select(0, index if of is None else of.index_select(0, index))

    def history_attention_for(self, z: dict[str, torch.Tensor], users: torch.Tensor,
                              songs: torch.Tensor) -> torch.Tensor:
        """Attention over the attended history of each user when scoring each of its songs,
        averaged over the members, shaped songs.shape x ATTENDED_HISTORY; ``songs`` is (users,)
        or (users, m): m songs per user. It sums to 1 over a user's history songs."""
        attention = kernel.mean_attention(*self._gathered(z, users, songs.view(len(users), -1)),
                                          self.sharpness, self.members).transpose(1, 2)
        return attention.reshape(*songs.shape, attention.shape[-1])

    def member_collaborative(self, z: dict[str, torch.Tensor], users: torch.Tensor,
                             songs: torch.Tensor, hours: torch.Tensor | None = None) -> torch.Tensor:
        """Each member's graph part plus history part, shaped songs.shape x members; ``songs``
        is (users,) or (users, m); ``hours`` each user's context (or None)."""
        scores = kernel.member_scores(*self._gathered(z, users, songs.view(len(users), -1), hours),
                                      self.sharpness, self.members)
        return scores.view(*songs.shape, self.members)

    def collaborative(self, z: dict[str, torch.Tensor], users: torch.Tensor,
                      songs: torch.Tensor) -> torch.Tensor:
        """Graph part plus history part of each user's songs, averaged over the members."""
        return self.member_collaborative(z, users, songs).mean(-1)

    def member_scores(self, z: dict[str, torch.Tensor], users: torch.Tensor, songs: torch.Tensor,
                      hours: torch.Tensor | None = None) -> torch.Tensor:
        """Each member's score of each user's songs, shaped songs.shape x members."""
        return self.member_collaborative(z, users, songs, hours)

    def combine(self, z: dict[str, torch.Tensor], users: torch.Tensor, songs: torch.Tensor
                ) -> torch.Tensor:
        """Scores of each user's songs, shaped like ``songs``: (users,) or (users, m)."""
        return self.member_scores(z, users, songs).mean(-1)

    def pair_scores(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        return self.combine(self(), users, songs)

    def embed(self) -> dict[str, torch.Tensor]:
        return self()

    @torch.no_grad()
    def full_sort_predict(self, users: torch.Tensor, z: dict[str, torch.Tensor] | None = None
                          ) -> torch.Tensor:
        z = self() if z is None else z
        catalogue = torch.arange(len(z["song"]), device=users.device).unsqueeze(0)
        return kernel.catalogue_collaborative(z["user"], z["song"], z["attended"], z["attended_mask"],
                                              self.sharpness, self.members, users, catalogue)

    def calculate_loss(self, users, positives, negatives, l2: float = 0.0, hardest: bool = False,
                       z: dict[str, torch.Tensor] | None = None, hours: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Each member's own BPR (and L2), summed: with one member, plain BPR. ``z``: the
        forward pass to score from (default: a new one); ``hours``: each positive's context,
        its negatives scored in the same context."""
        z = self() if z is None else z
        hours = hours if self.context is not None else None
        negatives = negatives.view(len(users), -1)
        if hardest:
            negatives = self._hardest(z, users, negatives, hours)
        scores = self.member_scores(z, users, torch.cat([positives.unsqueeze(1), negatives], 1), hours)
        negative_scores = scores[:, 1:]
        if hardest:  # member k against its own hardest negative, column k
            negative_scores = negative_scores.diagonal(dim1=1, dim2=2).unsqueeze(1)
        loss = self.bpr(scores[:, :1], negative_scores) * self.members
        if l2:
            # squared norms of only the rows the batch reads: a step's cost follows the batch
            def norms(table: str, index: torch.Tensor) -> torch.Tensor:
                return self.per_member(self.rows_of(z, table, index.reshape(-1))).pow(2).sum(-1)

            negative = norms("song_input", negatives).view(*negatives.shape, -1)
            negative = negative.diagonal(dim1=1, dim2=2) if hardest else negative.mean(1)
            loss = loss + l2 * (norms("user_input", users) + norms("song_input", positives)
                                + negative).sum(-1).mean()
            if hours is not None:
                loss = loss + l2 * self.per_member(self.context_rows(hours)).pow(2).sum(-1).sum(-1).mean()
        return loss

    @torch.no_grad()
    def _hardest(self, z: dict[str, torch.Tensor], users: torch.Tensor, candidates: torch.Tensor,
                 hours: torch.Tensor | None = None) -> torch.Tensor:
        """Each row's highest-scored candidate for each member, (rows, members). Scored without
        gradients, so only the chosen ones pay for the backward pass."""
        return candidates.gather(1, self.member_scores(z, users, candidates, hours).argmax(1))

    def history_attention(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(edge_index song->user, attention averaged over heads and members) of the last
        forward pass."""
        alpha = torch.stack([attention[HISTORY] for attention in self.last_attention])
        return self.bundle.data[HISTORY].edge_index, alpha.mean(dim=(0, -1))


class _BasicBranch(nn.Module):
    """One member of gat-basic: input dropout, one GAT layer, output plus input."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.gat = HeteroGATLayer(COLLABORATIVE, dim, dim // heads, heads, concat=True)

    def forward(self, x: dict[str, torch.Tensor], graph: Any
                ) -> tuple[dict[str, torch.Tensor], dict[Relation, torch.Tensor]]:
        x = {t: F.dropout(v, self.dropout, self.training) for t, v in x.items()}
        return self.gat(x, graph)

    def readout(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # No transform or non-linearity after the one layer, as in LightGCN: it scores
        # better on held-out listening (docs/models.md).
        return x + h


class _EnhancedBranch(nn.Module):
    """One member of gat-enhanced: two GAT layers over every relation with batch norm and
    dropout between them, then a projection and ReLU added to the input."""

    def __init__(self, relations: tuple[Relation, ...], node_types: tuple[str, ...], dim: int,
                 hidden: int, heads: tuple[int, int], dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.layer1 = HeteroGATLayer(relations, dim, hidden // heads[0], heads[0], concat=True)
        # Every step sees every node, so batch statistics are exact: no running averages to lag.
        self.norms = nn.ModuleDict({t: nn.BatchNorm1d(hidden, track_running_stats=False)
                                    for t in node_types})
        # The last layer only needs the messages that reach users and songs.
        into_scored = tuple(rel for rel in relations if rel[2] in ("user", "song"))
        self.layer2 = HeteroGATLayer(into_scored, hidden, dim // heads[1], heads[1], concat=True)
        self.project = nn.Linear(dim, dim)

    def forward(self, x: dict[str, torch.Tensor], graph: Any
                ) -> tuple[dict[str, torch.Tensor], dict[Relation, torch.Tensor]]:
        h1, _ = self.layer1(x, graph)
        h1 = {t: F.dropout(F.elu(self._normalise(t, v)), self.dropout, self.training)
              for t, v in h1.items()}
        return self.layer2(h1, graph)

    def _normalise(self, node_type: str, h: torch.Tensor) -> torch.Tensor:
        # Batch statistics need two nodes: one listener's own export has a single user node.
        return self.norms[node_type](h) if h.shape[0] > 1 else h

    def readout(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # Two layers of genre-mixed messages need a learned projection before they join the
        # input (docs/models.md).
        return x + F.relu(self.project(h))


class BasicGATRecommender(_GATRecommender):
    """Collaborative only: users, songs, artists; one GAT layer; score = u . s."""

    kind = "gat-basic"
    node_types = ("user", "song", "artist")

    def __init__(self, bundle: GraphBundle, dim: int = 32, heads: int = 4, dropout: float = 0.1,
                 members: int = 1, context: bool = False) -> None:
        super().__init__(bundle, dim, members, context)
        self.heads, self.dropout = heads, dropout
        self.branches = nn.ModuleList(_BasicBranch(dim, heads, dropout) for _ in range(members))
        self.reset_parameters()

    def hyper_parameters(self) -> dict[str, Any]:
        return {"dim": self.dim, "heads": self.heads, "dropout": self.dropout, "members": self.members,
                "context": self.context is not None}


class EnhancedGATRecommender(_GATRecommender):
    """Genre-aware: genre nodes and embeddings, two GAT layers (4 heads concatenated
    to 64 dimensions, then 2 heads to 32), batch norm, dropout, and

        final = alpha * collaborative + (1 - alpha) * scale * genre_similarity

    where genre_similarity is the cosine between the user's genre affinities
    (training history and declared preferences) and the song's genres, and ``scale`` is
    learned (the exported model folds it into its alpha: ``served_alpha``).
    """

    kind = "gat-enhanced"
    node_types = ("user", "song", "artist", "genre")

    def __init__(self, bundle: GraphBundle, dim: int = 32, hidden: int = 64, heads: tuple[int, int] = (4, 2),
                 dropout: float = 0.2, alpha: float = 0.8, members: int = 1, context: bool = False) -> None:
        super().__init__(bundle, dim, members, context)
        self.hidden, self.heads, self.dropout, self.alpha = hidden, tuple(heads), dropout, alpha
        relations = tuple(bundle.data.edge_types)
        self.message_layers, self.message_relations = 2, relations
        self.branches = nn.ModuleList(
            _EnhancedBranch(relations, self.node_types, dim, hidden, self.heads, dropout)
            for _ in range(members))
        # unit genre profiles: users' rows with the zero column the songs' padding slots read
        self.register_buffer("user_genre", F.pad(F.normalize(bundle.user_genre, dim=1), (0, 1)))
        self.register_buffer("song_genre_slots", bundle.song_genre_slots.clone())
        self.register_buffer("song_genre_weight", torch.from_numpy(bundle.song_genres.weights()))
        # log of the genre cosine's scale, learned with the BPR loss: a cosine in [0, 1] mixed
        # as it is with a collaborative score of 10 and more moved the score by 1 %; it starts
        # at e^2.3 = 10, about the collaborative score's size
        self.log_genre_scale = nn.Parameter(torch.tensor(2.3))
        self.reset_parameters()

    def hyper_parameters(self) -> dict[str, Any]:
        return {"dim": self.dim, "hidden": self.hidden, "heads": list(self.heads),
                "dropout": self.dropout, "alpha": self.alpha, "members": self.members,
                "context": self.context is not None}

    def genre_similarity(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        """Cosine of each user's genre affinities with each of its songs' genres, shaped like
        ``songs``: (users,) or (users, m)."""
        candidates = songs.view(len(users), -1)
        return kernel.genre_similarity(self.user_genre[users], self.song_genre_slots[candidates],
                                       self.song_genre_weight[candidates]).view(songs.shape)

    def member_scores(self, z, users, songs, hours=None):
        genre = self.genre_similarity(users, songs).unsqueeze(-1) * self.log_genre_scale.exp()
        return kernel.final_scores(self.member_collaborative(z, users, songs, hours), genre, self.alpha)

    def served_alpha(self) -> float:
        """The collaborative share the exported model mixes with the plain cosine: the same
        ranking as ``alpha`` with the learned scale (every score divided by alpha + (1 -
        alpha) * scale), so the explanations' genre influence is the share it really has."""
        scale = float(self.log_genre_scale.detach().exp())
        return self.alpha / (self.alpha + (1 - self.alpha) * scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a checkpoint from before the learned scale scored the plain cosine: scale 1
        state_dict.setdefault(prefix + "log_genre_scale", torch.zeros(()))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def full_sort_predict(self, users, z=None):
        genre = kernel.genre_similarity(self.user_genre[users], self.song_genre_slots.unsqueeze(0),
                                        self.song_genre_weight.unsqueeze(0))
        return kernel.final_scores(super().full_sort_predict(users, z), genre * self.log_genre_scale.exp(),
                                   self.alpha)
