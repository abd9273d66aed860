"""Keep freed memory in the process's heap while training on the CPU.

glibc serves every allocation over 32 MB (the most its mmap threshold may be raised to) with a
fresh mmap and hands it back on free, so each of a large graph's per-edge tensors, allocated
anew every step, is faulted in and zeroed by the kernel page by page. On the 100x synthetic set
that was half a full-graph step (22 s a step, 50 s of a 100 s run spent in the kernel); served
from a heap that keeps what was freed, the step takes 14 s, for 1.4x the peak memory
(docs/benchmarks.md). PyTorch's own CPU allocator does not cache, so this is glibc's setting.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)
# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_kept = False


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and never trim it, for the rest of the process;
    True where that took (glibc), False elsewhere, where nothing changes."""
    global _kept
    if _kept:
        return True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: macOS, musl
        return False
    _kept = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))  # -1: never trim
    log.debug("heap keeps freed memory: %s", _kept)
    return _kept
