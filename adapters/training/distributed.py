"""Data-parallel training on torch.distributed: every rank holds the whole model and graph,
trains on its share of each step's batch, and the ranks average their gradients (gloo on
CPU, nccl on GPU), so each step moves every copy the same way.

A rank learns its place from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT); `engine train --nproc N` sets the same for N processes on one
machine. Without them, training runs in one process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def lead(self) -> bool:
        """The rank that validates, writes the run and reports."""
        return self.rank == 0

    def share(self, rows: Any) -> Any:
        """This rank's contiguous share of ``rows`` (the shares differ by at most one row)."""
        size, extra = divmod(len(rows), self.world)
        start = self.rank * size + min(self.rank, extra)
        return rows[start:start + size + (self.rank < extra)]


def from_environment() -> Ranks:
    """This process's rank, joining the process group on first use when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend, init_method="env://")
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return Ranks(dist.get_rank(), dist.get_world_size())


def average_gradients(parameters: list[torch.nn.Parameter], ranks: Ranks, weight: float) -> None:
    """Replace each gradient by the ranks' sum of ``weight`` times their own (weight: this
    rank's share of the step's rows), in one flat all-reduce."""
    if ranks.world == 1:
        return
    for parameter in parameters:  # the same flat layout on every rank, whatever it scored
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
    grads = [p.grad for p in parameters]
    flat = _flatten_dense_tensors(grads) * weight
    dist.all_reduce(flat)
    for grad, reduced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
        grad.copy_(reduced)


def total(value: float, ranks: Ranks) -> float:
    """The ranks' sum of ``value``."""
    if ranks.world == 1:
        return value
    # nccl reduces GPU tensors only
    tensor = torch.tensor([value], dtype=torch.float64,
                          device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(tensor)
    return float(tensor.item())


def from_lead(value: T, ranks: Ranks) -> T:
    """The lead rank's ``value`` on every rank."""
    if ranks.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def leave(ranks: Ranks) -> None:
    if ranks.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
