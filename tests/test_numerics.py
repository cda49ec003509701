"""The same command gives the same numbers: thread counts that do not shrink under load and fixed
CPU code paths are set before torch starts; torch uses deterministic algorithms once seeded."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

import cinesense
from cinesense.seeding import seed_everything


def test_thread_counts_do_not_follow_the_load():
    assert os.environ["OMP_DYNAMIC"] == "FALSE" and os.environ["MKL_DYNAMIC"] == "FALSE"


def _fresh(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in cinesense.NUMERICS_ENV}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or "MKL_CBWR" not in cinesense.NUMERICS_ENV,
                    reason="CPU code paths are pinned on x86-64 with AVX2")
def test_cpu_code_paths_are_pinned_before_torch_starts():
    """Importing cinesense first pins MKL, oneDNN and torch's kernels to AVX2 (an AVX-512 machine
    would otherwise round differently); a value the user set wins."""
    code = "import cinesense, os, torch; print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'])"
    assert _fresh(code) == "AVX2 AVX2 AVX2"
    assert _fresh(code, MKL_CBWR="COMPATIBLE").split()[1] == "COMPATIBLE"


def test_seeding_asks_for_deterministic_algorithms():
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(False)
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)
