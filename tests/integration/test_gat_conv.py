"""The engine's GAT convolution is PyG's GATConv: same outputs, attention and gradients."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GATConv

from adapters.models import attention_sum
from adapters.models.gat import ScalarWeightGATConv


def _bipartite(n_src: int, n_dst: int, n_edges: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.stack([torch.randint(0, n_src, (n_edges,), generator=generator),
                              torch.randint(0, n_dst, (n_edges,), generator=generator)])
    x_src = torch.randn(n_src, 16, generator=generator, requires_grad=True)
    x_dst = torch.randn(n_dst, 16, generator=generator, requires_grad=True)
    weight = torch.rand(n_edges, 1, generator=generator)
    return edge_index, x_src, x_dst, weight


def _run(conv, edge_index, x_src, x_dst, weight, probe):
    x_src.grad = x_dst.grad = None
    conv.zero_grad()
    torch.manual_seed(5)  # the same attention dropout draws for both
    out, (_, attention) = conv((x_src, x_dst), edge_index, edge_attr=weight, return_attention_weights=True)
    ((out * probe).sum() + attention.pow(2).sum()).backward()
    return out.detach(), attention.detach(), x_src.grad.clone(), x_dst.grad.clone(), {
        name: parameter.grad.clone() for name, parameter in conv.named_parameters()}


@pytest.mark.parametrize(("weighted", "dropout", "concat"), [
    (True, 0.0, True), (False, 0.0, True), (True, 0.3, True), (True, 0.0, False)])
@pytest.mark.parametrize("chunk", [7, attention_sum.EDGE_CHUNK])
@pytest.mark.parametrize("by_destination", [False, True])
def test_matches_pyg_gatconv(monkeypatch, weighted, dropout, concat, chunk, by_destination):
    """The attention's gradient across chunk boundaries (7 edges a chunk) and in one chunk;
    with and without edge weights, with attention dropout (training mode), heads averaged;
    edges in random order (the softmax by scatter) and in destination order, as the graph
    builder stores them (the softmax by segments)."""
    monkeypatch.setattr(attention_sum, "EDGE_CHUNK", chunk)
    edge_index, x_src, x_dst, weight = _bipartite(30, 20, 200, seed=3)
    if by_destination:
        order = torch.argsort(edge_index[1], stable=True)
        edge_index, weight = edge_index[:, order], weight[order]
    weight = weight if weighted else None
    settings = {"heads": 4, "add_self_loops": False, "edge_dim": 1 if weighted else None,
                "dropout": dropout, "concat": concat}
    ours = ScalarWeightGATConv((16, 16), 4, **settings)
    theirs = GATConv((16, 16), 4, **settings)
    theirs.load_state_dict(ours.state_dict())
    probe = torch.randn(20, 16 if concat else 4, generator=torch.Generator().manual_seed(9))
    mine, reference = (_run(conv, edge_index, x_src, x_dst, weight, probe) for conv in (ours, theirs))
    assert (ours._edge_orders.by_destination.order is None) == by_destination
    for got, expected in zip(mine[:4], reference[:4], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert mine[4].keys() == reference[4].keys()
    for name, gradient in mine[4].items():
        torch.testing.assert_close(gradient, reference[4][name], rtol=1e-5, atol=1e-6)


def test_destination_without_edges_gets_zero_and_no_edges_at_all_work():
    conv = ScalarWeightGATConv((16, 16), 4, heads=2, add_self_loops=False)
    edge_index, x_src, x_dst, _ = _bipartite(5, 6, 4, seed=1)
    edge_index[1] = torch.tensor([0, 0, 1, 1])
    out = conv((x_src, x_dst), edge_index)
    assert out.shape == (6, 8)
    # no edges into destinations 2..5: only the bias
    torch.testing.assert_close(out[2:], conv.bias.detach().expand(4, 8))
    empty = conv((x_src, x_dst), torch.empty((2, 0), dtype=torch.long))
    assert empty.shape == (6, 8)
    empty.sum().backward()
    assert x_src.grad is not None and torch.count_nonzero(x_src.grad) == 0


def test_a_conv_given_other_edges_sums_over_them_not_the_edges_it_sorted_before():
    """The edges' destination order is kept while the same edge tensor comes back (a
    full-graph run) and built anew for another (a sampled run's every step)."""
    conv = ScalarWeightGATConv((16, 16), 4, heads=2, add_self_loops=False, edge_dim=1)
    first, x_src, x_dst, weight = _bipartite(30, 20, 200, seed=3)
    second = first[:, torch.randperm(200, generator=torch.Generator().manual_seed(4))[:150]]
    second = torch.stack([second[0], (second[1] + 7) % 20])
    for edges in (first, second, first):
        fresh = ScalarWeightGATConv((16, 16), 4, heads=2, add_self_loops=False, edge_dim=1)
        fresh.load_state_dict(conv.state_dict())
        torch.testing.assert_close(conv((x_src, x_dst), edges, edge_attr=weight[:edges.shape[1]]),
                                   fresh((x_src, x_dst), edges, edge_attr=weight[:edges.shape[1]]))
