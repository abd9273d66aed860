"""Sampled neighbourhoods for mini-batch message passing (GraphSAGE-style fan-out).

A training step needs the final embeddings of only its batch's users and songs (the users,
their positives, negatives and attended history songs). With ``layers`` message-passing
layers those depend on the seeds' neighbours up to ``layers`` hops away; this keeps at most
``fanout`` incoming edges per node and relation at each hop and relabels what it kept into a
small ``HeteroData`` the model's layers run on unchanged, so a step's cost follows the batch
and the fan-out, not the graph.

PyG's ``NeighborLoader`` / ``LinkNeighborLoader`` do this sampling in pyg-lib or
torch-sparse; neither installs on these machines (no pyg-lib build on the package registry,
a torch-sparse source release that does not build against this torch), so the sampling is
written here on plain torch: each relation's edges sorted by destination once (CSR), shuffled
within each destination once per epoch, and each destination's window of ``fanout`` edges
from a random start drawn per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import HeteroData

from adapters.graph.pyg_builder import row_pointers

Relation = tuple[str, str, str]


@dataclass
class Neighbourhood:
    """A sampled subgraph: ``graph`` on local indices; ``nodes[t]`` the global index of each
    local node of type t (the seeds first, in their order); ``local[t]`` the inverse (-1
    where a node was not sampled)."""

    graph: HeteroData
    nodes: dict[str, torch.Tensor]
    local: dict[str, torch.Tensor]

    def to(self, device: torch.device) -> Neighbourhood:
        return Neighbourhood(self.graph.to(device), {t: v.to(device) for t, v in self.nodes.items()},
                             {t: v.to(device) for t, v in self.local.items()})


class _Incoming:
    """One relation's edges sorted by destination: CSR row pointers, sources, weights."""

    def __init__(self, edge_index: torch.Tensor, edge_attr: torch.Tensor | None, n_dst: int) -> None:
        self.src, self.dst = edge_index[0], edge_index[1]
        self.attr = edge_attr
        self.rowptr = row_pointers(self.dst, n_dst)
        self.order = torch.argsort(self.dst, stable=True)

    def shuffle(self, generator: torch.Generator) -> None:
        """A new random order of each destination's edges (destinations stay sorted)."""
        shuffled = torch.randperm(len(self.dst), generator=generator)
        self.order = shuffled[torch.argsort(self.dst[shuffled], stable=True)]

    def pick(self, destinations: torch.Tensor, fanout: int, generator: torch.Generator) -> torch.Tensor:
        """Edge ids of at most ``fanout`` incoming edges of each destination: all of them
        where it has no more, else a window of the shuffled order from a random start."""
        start = self.rowptr[destinations]
        degree = self.rowptr[destinations + 1] - start
        take = degree.clamp(max=fanout)
        offset = (torch.rand(len(destinations), generator=generator) * degree).long()
        total = int(take.sum())
        group = torch.repeat_interleave(torch.arange(len(destinations)), take)
        within = torch.arange(total) - (torch.cumsum(take, 0) - take)[group]
        slot = start[group] + (offset[group] + within) % degree[group].clamp(min=1)
        return self.order[slot]


class NeighbourhoodSampler:
    """Samples ``layers`` hops of at most ``fanout`` incoming edges per node and relation
    over ``relations`` of ``data`` (a CPU graph); seeded, so a run samples alike each time."""

    def __init__(self, data: HeteroData, relations: tuple[Relation, ...], layers: int, fanout: int,
                 seed: int) -> None:
        self.data = data
        self.layers, self.fanout = layers, fanout
        self.num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
        self.incoming = {rel: _Incoming(data[rel].edge_index, getattr(data[rel], "edge_attr", None),
                                        self.num_nodes[rel[2]]) for rel in relations}
        self.generator = torch.Generator().manual_seed(seed)

    def shuffle(self) -> None:
        for incoming in self.incoming.values():
            incoming.shuffle(self.generator)

    def sample(self, seeds: dict[str, torch.Tensor]) -> Neighbourhood:
        """The neighbourhood of ``seeds`` (distinct global indices per node type)."""
        nodes = {t: [seeds.get(t, torch.empty(0, dtype=torch.long))] for t in self.num_nodes}
        local = {t: torch.full((n,), -1, dtype=torch.long) for t, n in self.num_nodes.items()}
        for t, chosen in seeds.items():
            local[t][chosen] = torch.arange(len(chosen))
        counts = {t: len(seeds.get(t, ())) for t in self.num_nodes}
        frontier = dict(seeds)
        kept: dict[Relation, list[torch.Tensor]] = {rel: [] for rel in self.incoming}
        for _ in range(self.layers):
            reached: dict[str, list[torch.Tensor]] = {}
            for rel, incoming in self.incoming.items():
                destinations = frontier.get(rel[2])
                if destinations is None or not len(destinations):
                    continue
                edges = incoming.pick(destinations, self.fanout, self.generator)
                kept[rel].append(edges)
                reached.setdefault(rel[0], []).append(incoming.src[edges])
            frontier = {}
            for t, found in reached.items():
                found_nodes = torch.unique(torch.cat(found))
                new = found_nodes[local[t][found_nodes] < 0]
                local[t][new] = torch.arange(counts[t], counts[t] + len(new))
                counts[t] += len(new)
                nodes[t].append(new)
                frontier[t] = new
        graph = HeteroData()
        merged = {t: torch.cat(parts) for t, parts in nodes.items()}
        for t, chosen in merged.items():
            graph[t].num_nodes = len(chosen)
        for rel, incoming in self.incoming.items():
            edges = torch.cat(kept[rel]) if kept[rel] else torch.empty(0, dtype=torch.long)
            graph[rel].edge_index = torch.stack([local[rel[0]][incoming.src[edges]],
                                                 local[rel[2]][incoming.dst[edges]]])
            if incoming.attr is not None:
                graph[rel].edge_attr = incoming.attr[edges]
        return Neighbourhood(graph, merged, local)
