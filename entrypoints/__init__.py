"""The ways into the engine: the CLI, the HTTP app and the launcher of training ranks.

Importing this package, which every one of them does before anything imports torch, asks
PyTorch's CPU allocator to back each tensor of 2 MB or more with 2 MB pages where the kernel
allows them (``THP_MEM_ALLOC_ENABLE``, which torch reads once, at its first allocation; a
value the user set wins). A full-graph training step gathers rows at random from tables and
per-edge arrays of tens to hundreds of MB; with 4 KB pages most of those reads also miss the
processor's address cache (TLB). Measured on the 10x and 100x sets (docs/benchmarks.md).
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
