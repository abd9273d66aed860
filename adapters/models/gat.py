"""Graph Attention Network recommenders on the heterogeneous listening graph.

Both models keep the attention of the forward pass that produced their
embeddings (``last_attention``), so explanations read the model's own weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv

from adapters.graph.pyg_builder import HISTORY, LISTENS, PERFORMS, PREFERS, GraphBundle
from adapters.models.base import GraphRecommender

Relation = tuple[str, str, str]
WEIGHTED = {LISTENS, HISTORY, PREFERS, ("genre", "rev_prefers", "user")}
# Only messages into users and songs reach the scores of a one-layer model.
COLLABORATIVE = (LISTENS, HISTORY, PERFORMS)


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
            "__".join(rel): GATConv((in_dim, in_dim), out_dim, heads=heads, concat=concat,
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


class _GATRecommender(GraphRecommender):
    node_types: tuple[str, ...] = ()

    def __init__(self, bundle: GraphBundle, dim: int) -> None:
        super().__init__(bundle)
        self.dim = dim
        self.embeddings = nn.ModuleDict({
            t: nn.Embedding(bundle.data[t].num_nodes, dim) for t in self.node_types})
        self.project = nn.Linear(dim, dim)
        self.last_attention: dict[Relation, torch.Tensor] = {}

    def reset_parameters(self) -> None:
        for embedding in self.embeddings.values():
            nn.init.normal_(embedding.weight, std=0.1)
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters") and not isinstance(
                    module, nn.Embedding):
                module.reset_parameters()

    def inputs(self) -> dict[str, torch.Tensor]:
        return {t: e.weight for t, e in self.embeddings.items()}

    def propagate(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self) -> dict[str, torch.Tensor]:
        """Final user and song embeddings: GAT output, projected, plus the input (skip)."""
        x = self.inputs()
        h = self.propagate(x)
        return {t: x[t] + F.relu(self.project(h[t])) for t in ("user", "song")}

    def collaborative(self, z: dict[str, torch.Tensor], users: torch.Tensor,
                      songs: torch.Tensor) -> torch.Tensor:
        return (z["user"][users] * z["song"][songs]).sum(-1)

    def combine(self, z: dict[str, torch.Tensor], users: torch.Tensor, songs: torch.Tensor
                ) -> torch.Tensor:
        return self.collaborative(z, users, songs)

    def pair_scores(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        return self.combine(self(), users, songs)

    def embed(self) -> dict[str, torch.Tensor]:
        return self()

    def full_sort_predict(self, users: torch.Tensor, z: dict[str, torch.Tensor] | None = None
                          ) -> torch.Tensor:
        z = self() if z is None else z
        return z["user"][users] @ z["song"].T

    def calculate_loss(self, users, positives, negatives, l2: float = 0.0) -> torch.Tensor:
        z = self()
        loss = self.bpr(self.combine(z, users, positives), self.combine(z, users, negatives))
        if l2:
            x = self.inputs()
            loss = loss + l2 * (x["user"][users].pow(2).sum() + x["song"][positives].pow(2).sum()
                                + x["song"][negatives].pow(2).sum()) / len(users)
        return loss

    def history_attention(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(edge_index song->user, attention averaged over heads) of the last forward pass."""
        alpha = self.last_attention[HISTORY]
        return self.bundle.data[HISTORY].edge_index, alpha.mean(dim=-1)

    def last_layer(self) -> HeteroGATLayer:
        raise NotImplementedError

    @torch.no_grad()
    def history_contributions(self) -> dict[str, torch.Tensor]:
        """What each history edge (song j -> user u) adds to u's final layer output, from the
        last forward pass: alpha_uj (W x_j - sum_k alpha_uk W x_k) per head, concatenated;
        the gate of the output projection for each user; and the projection weight.

        Taking edge j out renormalises the softmax, moving u's output by this amount over
        (1 - alpha_uj); through the projection and the dot product with a song it gives the
        first-order change of that song's collaborative score, which explanations rank by."""
        conv = self.last_layer().convs["__".join(HISTORY)]
        edge_index = self.bundle.data[HISTORY].edge_index
        songs, users = edge_index
        alpha = self.last_attention[HISTORY]
        messages = conv.lin_src(self._last_inputs["song"]).view(-1, conv.heads, conv.out_channels)[songs]
        weighted = alpha.unsqueeze(-1) * messages
        mean = torch.zeros((self.bundle.data["user"].num_nodes, *weighted.shape[1:]),
                           device=weighted.device).index_add_(0, users, weighted)
        contribution = (alpha.unsqueeze(-1) * (messages - mean[users])).reshape(len(songs), -1)
        gate = (self.project(self._last_outputs["user"]) > 0).float()
        return {"contribution": contribution, "user_gate": gate, "projection": self.project.weight}


class BasicGATRecommender(_GATRecommender):
    """Collaborative only: users, songs, artists; one GAT layer; score = u . s."""

    kind = "gat-basic"
    node_types = ("user", "song", "artist")

    def __init__(self, bundle: GraphBundle, dim: int = 32, heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__(bundle, dim)
        self.heads, self.dropout = heads, dropout
        self.gat = HeteroGATLayer(COLLABORATIVE, dim, dim // heads, heads, concat=True)
        self.reset_parameters()

    def hyper_parameters(self) -> dict[str, Any]:
        return {"dim": self.dim, "heads": self.heads, "dropout": self.dropout}

    def last_layer(self) -> HeteroGATLayer:
        return self.gat

    def propagate(self, x):
        x = {t: F.dropout(v, self.dropout, self.training) for t, v in x.items()}
        h, attention = self.gat(x, self.bundle.data)
        self.last_attention = {rel: a.detach() for rel, a in attention.items()}
        self._last_inputs, self._last_outputs = x, h
        return h


class EnhancedGATRecommender(_GATRecommender):
    """Genre-aware: genre nodes and embeddings, two GAT layers (4 heads concatenated
    to 64 dimensions, then 2 heads to 32), batch norm, dropout, and

        final = alpha * collaborative + (1 - alpha) * genre_similarity

    where genre_similarity is the cosine between the user's genre affinities
    (training history and declared preferences) and the song's genres.
    """

    kind = "gat-enhanced"
    node_types = ("user", "song", "artist", "genre")

    def __init__(self, bundle: GraphBundle, dim: int = 32, hidden: int = 64, heads: tuple[int, int] = (4, 2),
                 dropout: float = 0.2, alpha: float = 0.8) -> None:
        super().__init__(bundle, dim)
        self.hidden, self.heads, self.dropout, self.alpha = hidden, tuple(heads), dropout, alpha
        relations = tuple(bundle.data.edge_types)
        self.layer1 = HeteroGATLayer(relations, dim, hidden // heads[0], heads[0], concat=True)
        # Every step sees every node, so batch statistics are exact: no running averages to lag.
        self.norms = nn.ModuleDict({t: nn.BatchNorm1d(hidden, track_running_stats=False)
                                    for t in self.node_types})
        # The last layer only needs the messages that reach users and songs.
        into_scored = tuple(rel for rel in relations if rel[2] in ("user", "song"))
        self.layer2 = HeteroGATLayer(into_scored, hidden, dim // heads[1], heads[1], concat=True)
        self.register_buffer("user_genre", F.normalize(bundle.user_genre, dim=1))
        self.register_buffer("song_genre", F.normalize(bundle.song_genre, dim=1))
        self.reset_parameters()

    def hyper_parameters(self) -> dict[str, Any]:
        return {"dim": self.dim, "hidden": self.hidden, "heads": list(self.heads),
                "dropout": self.dropout, "alpha": self.alpha}

    def last_layer(self) -> HeteroGATLayer:
        return self.layer2

    def propagate(self, x):
        h1, first = self.layer1(x, self.bundle.data)
        h1 = {t: F.dropout(F.elu(self.norms[t](v)), self.dropout, self.training) for t, v in h1.items()}
        h2, second = self.layer2(h1, self.bundle.data)
        self.last_attention = {rel: a.detach() for rel, a in second.items()}
        self.first_layer_attention = {rel: a.detach() for rel, a in first.items()}
        self._last_inputs, self._last_outputs = h1, h2
        return h2

    def genre_similarity(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        return (self.user_genre[users] * self.song_genre[songs]).sum(-1)

    def combine(self, z, users, songs):
        return (self.alpha * self.collaborative(z, users, songs)
                + (1 - self.alpha) * self.genre_similarity(users, songs))

    def full_sort_predict(self, users, z=None):
        collaborative = super().full_sort_predict(users, z)
        return self.alpha * collaborative + (1 - self.alpha) * (self.user_genre[users] @ self.song_genre.T)
