"""The most that N processes x 1 thread can gain over 1 process x 1 thread on the Att-BiLSTM, before any
communication: the time of one training step at the global batch against one at global / N, in
one process, and what of a step does not shrink with the batch (the optimizer, the L2 term).

    .venv/bin/python bench/ddp_ceiling.py [--batch 64] [--nproc 2] [--vocab 43000] [--length 40] [--hidden 128]

Synthetic token ids (the shapes of configs/douban.toml: a 43k vocabulary of 128-dim vectors, a
128-unit BiLSTM, reviews of about 40 tokens); the step is forward, loss + L2, backward and Adam, as
in ``train.train_one_epoch``. The ratio step(global) / step(global / N): with DDP each process runs
a step of global / N, then waits for the all-reduce. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cinesense.text.model import AttBiLSTM, AttBiLSTMConfig
from cinesense.train import l2_penalty


def step_times(model: AttBiLSTM, optimizer: torch.optim.Optimizer, batch: int, length: int, vocab: int, repeats: int) -> dict[str, float]:
    parts: dict[str, list[float]] = {"forward": [], "l2": [], "backward": [], "optimizer": []}
    generator = torch.Generator().manual_seed(batch)
    for repeat in range(repeats + 2):
        ids = torch.randint(2, vocab, (batch, length), generator=generator)
        lengths = torch.randint(length // 2, length + 1, (batch,), generator=generator)
        lengths[0] = length
        targets = torch.randint(0, 2, (batch,), generator=generator)
        ticks = [time.perf_counter()]
        loss = torch.nn.functional.cross_entropy(model(ids, lengths), targets)
        ticks.append(time.perf_counter())
        loss = loss + 1e-6 * l2_penalty(model)
        ticks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ticks.append(time.perf_counter())
        optimizer.step()
        ticks.append(time.perf_counter())
        if repeat >= 2:  # the first two warm the allocator
            for name, start, end in zip(parts, ticks, ticks[1:]):
                parts[name].append(end - start)
    return {name: 1000 * statistics.median(values) for name, values in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="global batch (train.batch_size)")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=43000)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AttBiLSTM(AttBiLSTMConfig(vocab_size=args.vocab, embedding_dim=128, num_classes=2, hidden_size=args.hidden,
                                      attention_dim=args.hidden)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    share = max(1, args.batch // args.nproc)
    rows = {batch: step_times(model, optimizer, batch, args.length, args.vocab, args.repeats) for batch in (args.batch, share)}
    print(f"one process x 1 thread, vocabulary {args.vocab} x 128, hidden {args.hidden}, ~{args.length} tokens, median of {args.repeats} steps (ms)")
    print(f"{'batch':>6}{'forward':>10}{'L2':>8}{'backward':>10}{'Adam':>8}{'step':>8}")
    for batch, parts in rows.items():
        print(f"{batch:>6}" + "".join(f"{parts[name]:>{width}.1f}" for name, width in
                                       (("forward", 10), ("l2", 8), ("backward", 10), ("optimizer", 8))) + f"{sum(parts.values()):>8.1f}")
    whole, part = (sum(rows[b].values()) for b in (args.batch, share))
    print(f"step at batch {args.batch} / step at batch {share}: {whole / part:.2f}x (what {args.nproc} processes could gain on "
          f"these synthetic shapes before communication; real batches, length-bucketed, differ)")


if __name__ == "__main__":
    main()
