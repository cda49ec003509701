"""VGG16 conv-base inference on CPU: images/s at 224 px, and that as a share of the fp32 matmul peak.

    .venv/bin/python bench/image_throughput.py [--threads 2] [--batches 1,4,8,32] [--seconds 5]

Measured in one run, on the same threads:
- the machine's fp32 matmul peak: the best GFLOP/s of the two GEMMs torch has on CPU, ``torch.mm``
  (MKL; on AMD processors it does not use AVX-512) and a 1x1 convolution (oneDNN, which the 3x3
  convolutions also use), on square problems of 1024-4096;
- the frozen conv base the feature cache and the service run (``VGG16Stem``, blocks 1-5 without the
  fifth pool, 15.35 GMACs = 30.7 GFLOP an image at 224 px), in torch's default (NCHW) layout, which
  ``VGG16Stem`` uses, and in channels-last layout, under ``torch.inference_mode``, at several batch
  sizes. Random weights cost the same as ImageNet ones; no weights file is needed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.image.vgg import VGG16_BLOCKS


def conv_flops(size: int = 224) -> float:
    """FLOPs (2 x multiply-adds) of VGG16's 13 convs on a size x size image, without the fifth pool."""
    flops, side, channels = 0.0, size, 3
    for widths in VGG16_BLOCKS:
        for out_channels in widths:
            flops += 2 * side * side * out_channels * channels * 9
            channels = out_channels
        side //= 2
    return flops


def best_rate(work: Callable[[], object], units: float, seconds: float) -> float:
    """Units per second of ``work``: the best of repeated timed calls for about ``seconds``."""
    work()  # warm-up (oneDNN primitive creation, weight re-layout)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        tick = time.perf_counter()
        work()
        best = max(best, units / (time.perf_counter() - tick))
    return best


def matmul_peak(seconds: float) -> tuple[float, str]:
    """Best fp32 GEMM GFLOP/s over a few square sizes and both CPU GEMMs, and which reached it."""
    results = []
    with torch.inference_mode():
        for n in (1024, 2048, 4096):
            a, b = torch.randn(n, n), torch.randn(n, n)
            results.append((best_rate(lambda: torch.mm(a, b), 2 * n**3 / 1e9, seconds), f"torch.mm {n}x{n}"))
        for n in (1024, 2048):  # (n x n) weights applied at n positions: the same n^3 multiply-adds
            conv = torch.nn.Conv2d(n, n, 1, bias=False).eval()
            x = torch.randn(1, n, 32, n // 32).contiguous(memory_format=torch.channels_last)
            results.append((best_rate(lambda: conv(x), 2 * n**3 / 1e9, seconds), f"1x1 conv {n}x{n}"))
    for rate, name in results:
        print(f"  fp32 GEMM {name}: {rate:.1f} GFLOP/s")
    return max(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,4,8,32", help="batch sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="timing budget per measurement")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads")
    peak, peak_name = matmul_peak(args.seconds)
    flops = conv_flops(args.size)
    print(f"fp32 matmul peak {peak:.1f} GFLOP/s ({peak_name})")
    print(f"VGG16 conv base at {args.size} px: {flops / 1e9:.2f} GFLOP an image")
    print("| layout | batch | images/s | GFLOP/s | share of matmul peak |")
    print("|---|---|---|---|---|")
    stem = AttVGG16(AttVGG16Config(num_classes=2)).stem.eval()
    for layout, memory_format in (("NCHW", torch.contiguous_format), ("channels-last", torch.channels_last)):
        for batch in (int(b) for b in args.batches.split(",")):
            images = torch.randn(batch, 3, args.size, args.size).contiguous(memory_format=memory_format)
            with torch.inference_mode():
                rate = best_rate(lambda: stem(images), batch, args.seconds)
            gflops = rate * flops / 1e9
            print(f"| {layout} | {batch} | {rate:.2f} | {gflops:.1f} | {100 * gflops / peak:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
