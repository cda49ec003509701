"""Training and inference throughput on every device this machine has (CPU, and CUDA when present):
the Att-BiLSTM's training samples/s and scoring comments/s on synthetic Douban-sized batches, and the
VGG16 conv base's images/s (fp32, and bf16 autocast), no data set or weights file needed.

    .venv/bin/python bench/gpu_throughput.py [--seconds 5] [--vocab 30000] [--length 30]

bench/gpu.sh runs it (and the tests that need a GPU) in one go on a GPU machine.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from cinesense.config import TextModelConfig
from cinesense.image.model import VGG16Stem
from cinesense.image.vgg import VGG16Features
from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig


def rate(step, items: int, seconds: float, device: torch.device) -> float:
    step()  # warm-up (cuDNN autotuning, allocation)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        done += items
    sync()
    return done / (time.perf_counter() - start)


def text_rates(device: torch.device, args: argparse.Namespace) -> tuple[float, float]:
    torch.manual_seed(0)
    config = AttBiLSTMConfig.from_config(TextModelConfig(), vocab_size=args.vocab, embedding_dim=128, num_classes=2)
    model = AttBiLSTM(config).to(device)
    ids = torch.randint(2, args.vocab, (args.batch, args.length), device=device)
    lengths = torch.randint(args.length // 3, args.length + 1, (args.batch,))
    targets = torch.randint(0, 2, (args.batch,), device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step() -> None:
        model.train()
        loss = torch.nn.functional.cross_entropy(model(ids, lengths), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def score_step() -> None:
        model.eval()
        with torch.inference_mode():
            model(ids, lengths)

    return rate(train_step, args.batch, args.seconds, device), rate(score_step, args.batch, args.seconds, device)


def image_rate(device: torch.device, batch: int, precision: str, seconds: float) -> float:
    stem = VGG16Stem(VGG16Features(), last_block=5).to(device).eval()
    images = torch.randn(batch, 3, 224, 224, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    def step() -> None:
        with torch.inference_mode(), autocast:
            stem(images)

    return rate(step, batch, seconds, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--vocab", type=int, default=30_000)
    parser.add_argument("--length", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-batch", type=int, default=32)
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"))
    for device in devices:
        train, score = text_rates(device, args)
        print(f"{device.type:4s} Att-BiLSTM (batch {args.batch}, {args.length} tokens): train {train:,.0f} samples/s, score {score:,.0f} comments/s")
        for precision in ("fp32", "bf16"):
            batch = args.image_batch if device.type == "cuda" else 4
            print(f"{device.type:4s} VGG16 conv base {precision} (batch {batch}, 224 px): {image_rate(device, batch, precision, args.seconds):,.1f} images/s")


if __name__ == "__main__":
    main()
