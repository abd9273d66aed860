"""The attention-weighted sum of a GAT layer, taken over the edges in chunks.

``out[dst] += alpha[e] * x[src]`` for every edge ``e`` (per head). Written as PyG writes it,
each edge's message is a tensor of edges x heads x channels that is built, multiplied and
scattered in memory, and kept for the backward pass: on the 100x synthetic set that is 600 MB
per relation, passed through main memory six times a step. Here each chunk of EDGE_CHUNK edges
is gathered, weighted and added while it is still in the cache, and nothing per edge but the
attention is kept: the backward pass gathers again, chunk by chunk. The sums are PyG's to
float rounding (tests/integration/test_gat_conv.py holds every output and gradient to GATConv's).
"""

from __future__ import annotations

from typing import Any

import torch

# Edges per chunk: a chunk's messages (16,384 x 32 floats, 2 MB) stay in a core's cache.
EDGE_CHUNK = 16_384


class _AttentionSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, alpha: torch.Tensor, x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                n_dst: int) -> torch.Tensor:
        out = x.new_zeros((n_dst, *x.shape[1:]))
        for edges in _chunks(len(src), x.device):
            out.index_add_(0, dst[edges], x.index_select(0, src[edges]) * alpha[edges].unsqueeze(-1))
        ctx.save_for_backward(alpha, x, src, dst)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        alpha, x, src, dst = ctx.saved_tensors
        grad_alpha = torch.empty_like(alpha) if ctx.needs_input_grad[0] else None
        grad_x = torch.zeros_like(x) if ctx.needs_input_grad[1] else None
        for edges in _chunks(len(src), x.device):
            into = grad.index_select(0, dst[edges])
            if grad_alpha is not None:
                grad_alpha[edges] = (into * x.index_select(0, src[edges])).sum(-1)
            if grad_x is not None:
                grad_x.index_add_(0, src[edges], into * alpha[edges].unsqueeze(-1))
        return grad_alpha, grad_x, None, None, None


def _chunks(n_edges: int, device: torch.device) -> list[slice]:
    # a GPU has no cache to fit and pays per kernel launch: one chunk there
    size = EDGE_CHUNK if device.type == "cpu" else max(n_edges, 1)
    return [slice(start, start + size) for start in range(0, n_edges, size)]


def attention_sum(alpha: torch.Tensor, x: torch.Tensor, edge_index: torch.Tensor, n_dst: int
                  ) -> torch.Tensor:
    """Per destination node, the sum over its edges of ``alpha`` (edges x heads) times the
    source's ``x`` (nodes x heads x channels): (n_dst, heads, channels)."""
    return _AttentionSum.apply(alpha, x, edge_index[0], edge_index[1], n_dst)
