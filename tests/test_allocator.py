"""The allocator tuning: applies on glibc Linux, once, and leaves torch working."""

import sys

import pytest
import torch

from gesturegan.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_keep_freed_memory_applies_once_and_large_tensors_still_work():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent
    big = torch.ones(16, 32, 128, 128)  # 33.5 MiB: above glibc's largest mmap threshold
    del big
    again = torch.full((16, 32, 128, 128), 2.0)
    assert float(again.sum()) == 2.0 * again.numel()
