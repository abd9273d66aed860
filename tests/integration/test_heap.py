"""Training keeps freed memory in the heap (adapters.training.heap): a large tensor freed in
one step is memory the next step's tensors reuse, not pages the kernel must fault in again."""

import subprocess
import sys

import pytest

PROBE = """
import sys
import torch
from adapters.training.heap import keep_freed_memory

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "keep" and not keep_freed_memory():
    print("unsupported")
    raise SystemExit
before = resident_mb()
big = torch.ones(64 * 2**20 // 4)  # 64 MB: past glibc's largest mmap threshold
del big
print(resident_mb() - before)
"""


def kept_after_free(mode: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_freed_large_tensor_stays_with_the_process_only_once_the_heap_keeps_it():
    kept = kept_after_free("keep")
    if kept == "unsupported":
        pytest.skip("not glibc")
    assert float(kept) > 60  # the 64 MB stay resident, ready for the next step
    assert float(kept_after_free("default")) < 8  # by default glibc hands them back at once
