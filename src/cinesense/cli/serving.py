"""The commands that use a trained model: predict (with shaded words and a heat map), explain (an
HTML page), predict-file (batch prediction with resume) and serve (the HTTP service and web page).
``cinesense.cli`` adds them to its parser."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np



def _command(commands: Any, name: str, help: str, *, out: str | None = None) -> argparse.ArgumentParser:
    """A subcommand taking ``--model``, and ``--data`` and ``--out`` (described by ``out``) if given."""
    parser = commands.add_parser(name, help=help)
    parser.add_argument("--model", type=Path, default=Path("default"),
                        help="model directory (default: the default model, the one `make run` built)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                        help="where the model runs: cpu (the default), cuda, or auto (a GPU when there is one)")
    if name in CAPTION_COMMANDS:
        parser.add_argument("--read-captions", action="store_true",
                            help="fused model: read the words written on each sticker (OCR, the 'ocr' extra) as part of its comment's text")
    if out is not None:
        parser.add_argument("--data", type=Path, required=True, help="comments in the shared JSONL format (labels optional)")
        parser.add_argument("--out", type=Path, required=True, help=out)
    return parser


CAPTION_COMMANDS = ("predict", "predict-file", "serve")  # the commands with --read-captions (cinesense.image.captions)


def _read_captions(classifier: Any, args: argparse.Namespace) -> None:
    if getattr(args, "read_captions", False):
        from cinesense.image.captions import attach_caption_reader

        attach_caption_reader(classifier)


def add_commands(commands: Any) -> None:
    """Add the model-using subcommands to ``commands`` (an argparse subparsers object)."""
    predict = _command(commands, "predict", "classify comments given on the command line, showing the attention")
    predict.add_argument("texts", nargs="*", help="comment text(s) (text or fused model)")
    predict.add_argument("--image", type=Path, action="append", default=[],
                         help="image file (image or fused model; repeatable; a fused model pairs texts and images in order)")
    predict.add_argument("--top", type=int, default=5, help="how many attended words to list")
    predict.add_argument("--heatmap", type=Path, help="PNG of the image with its attention heat map (one image); "
                         "default <image name>.attention.png beside the image (or here if that folder is read-only)")
    predict.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="shade the words in colour")

    explain = _command(commands, "explain", "an HTML page explaining the model's verdicts on a JSONL file", out="HTML page to write")
    explain.add_argument("--limit", type=int, default=200, help="explain at most this many comments (the first ones)")
    explain.add_argument("--skip-invalid", action="store_true", help="skip (and count) invalid lines")

    predict_file = _command(commands, "predict-file", "predict a JSONL file of any size; run again to continue after a stop",
                            out="predictions (JSONL: line, id, label, probabilities)")
    predict_file.add_argument("--batch-size", type=int, default=256, help="comments predicted and written together")
    predict_file.add_argument("--skip-invalid", action="store_true", help="write an error line for a bad line instead of stopping")
    predict_file.add_argument("--quiet", action="store_true", help="no progress bar")
    predict_file.add_argument("--threads", type=int, default=0,
                              help="local engine: torch threads (0: torch's default, one per core; beside other busy processes give it its share)")
    predict_file.add_argument("--sticker-cache-mb", type=int, default=256,
                              help="memory for the sticker conv-feature cache, MiB (image / fused model; 0: off; per actor with ray)")
    predict_file.add_argument("--sticker-cache-dir", type=Path, help="also keep sticker conv features on disk here (shared by runs and actors)")
    predict_file.add_argument("--stem-layout", choices=("auto", "nchw", "channels-last"), default="auto",
                              help="memory layout of the VGG16 conv base (image / fused model); auto: the faster here, measured once")
    predict_file.add_argument("--engine", choices=("local", "ray"), default="local",
                              help="local: this process, resumable (default); ray: Ray Data, an actor pool (needs the 'ray' extra; "
                              ".parquet input / output too; no resume)")
    predict_file.add_argument("--ray-address", help="ray engine: the cluster to join (auto, ray://HOST:10001); default a local Ray")
    predict_file.add_argument("--actors", type=int, help="ray engine: actors in the pool (default: CPUs / --actor-cpus)")
    predict_file.add_argument("--actor-cpus", type=float, default=1, help="ray engine: CPUs (torch threads) of one actor")
    predict_file.add_argument("--actor-gpus", type=float, default=0, help="ray engine: GPUs of one actor (> 0: the model runs there)")
    predict_file.add_argument("--read-tasks", type=int, default=2, help="ray engine: read tasks running at once (default 2; each a worker process)")

    serve = _command(commands, "serve", "the HTTP service and web page (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=0, help="torch threads for inference (0: torch's default)")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--stem-layout", choices=("auto", "nchw", "channels-last"), default="auto",
                       help="memory layout of the VGG16 conv base (image / fused model); auto: the faster here, measured once")
    serve.add_argument("--sticker-cache-mb", type=int, default=256,
                       help="memory for the sticker conv-feature cache, MiB (image / fused model; 0: off; default 256)")
    from cinesense.serve.limits import Limits

    for item in fields(Limits):
        serve.add_argument(f"--{item.name.replace('_', '-')}", type=int, default=item.default, help=f"limit (default {item.default:,})")


def _comments(adapter: Any, texts: list[str], images: list[Path]) -> list[tuple[str | None, Path | None]]:
    """The (text, image) comments of the command line, as the model's adapter reads them;
    ``ValueError`` if the model cannot read them."""
    if texts and not adapter.reads_text:
        raise ValueError("it does not read text: pass --image FILE only")
    if images and not adapter.reads_image:
        raise ValueError("it does not read images (--image)")
    if not texts and not adapter.reads_image:
        raise ValueError("pass the text(s) to classify")
    if not images and not adapter.reads_text:
        raise ValueError("pass --image FILE")
    if not texts and not images:
        raise ValueError("pass text(s), --image file(s) or both")
    if texts and images and len(texts) != len(images):
        raise ValueError(f"give as many texts as --image files ({len(texts)} and {len(images)}): they are paired in order")
    return list(zip(texts or [None] * len(images), images or [None] * len(texts)))


def run_predict(args: argparse.Namespace) -> int:
    from cinesense.classifier import Classifier
    from cinesense.explain import align_tokens, save_heatmap, shade, use_color

    classifier = Classifier.load(args.model, device=args.device)
    _read_captions(classifier, args)
    try:
        comments = _comments(classifier.adapter, args.texts, args.image)
    except ValueError as error:
        article = "an" if classifier.modality_[0] in "aeiou" else "a"
        raise ValueError(f"{args.model} is {article} {classifier.modality_} model: {error}") from None
    if args.heatmap is not None and len(args.image) > 1:
        raise ValueError("--heatmap names one file: give one --image (several images get <name>.attention.png each)")
    color = use_color(sys.stdout, args.color)
    for text, image in comments:
        explanation = classifier.explain(text, image)
        probability = explanation.probabilities[explanation.label]
        read = explanation.read_text if explanation.read_text is not None else text  # with its stickers' captions
        shown = [shade(align_tokens(read, explanation.tokens, explanation.weights), color=color)] if read is not None else []
        shown += [str(image)] if image is not None else []
        print(f"{explanation.label}\t{probability:.3f}\t{' + '.join(shown)}")
        if explanation.tokens:
            words = ", ".join(f"{token} {weight:.2f}" for token, weight in explanation.top_tokens(args.top))
            print(f"  attention: {words}")
        if explanation.image_attention is not None and image is not None:
            grid = np.asarray(explanation.image_attention)
            row, column = np.unravel_index(grid.argmax(), grid.shape)
            path = save_heatmap(image, explanation.image_attention, args.heatmap or _heatmap_path(image))
            print(f"  image attention: peak {grid.max():.2f} at row {row}, column {column} of {grid.shape[0]}x{grid.shape[1]}; heat map: {path}")
    return 0


def _heatmap_path(image: Path) -> Path:
    """``<name>.attention.png`` beside the image, or in the current folder if that one is read-only."""
    folder = image.parent if os.access(image.parent, os.W_OK) else Path.cwd()
    return folder / f"{image.stem}.attention.png"


def run_explain(args: argparse.Namespace) -> int:
    from cinesense.classifier import Classifier
    from cinesense.data.jsonl import load_jsonl
    from cinesense.data.schema import check_output_file
    from cinesense.explain import explain_records, write_page

    check_output_file(args.out)  # a folder given as --out: said now, not after the work
    data = load_jsonl(args.data, require_label=False, skip_invalid=args.skip_invalid)
    classifier = Classifier.load(args.model, device=args.device)
    examples = list(explain_records(classifier, data.records[: args.limit]))
    subtitle = f"model {args.model} ({classifier.modality_}; classes {', '.join(classifier.classes_)}) on {args.data}"
    page = write_page(examples, args.out, title="cinesense: why the model decided", subtitle=subtitle)
    failed = sum(e.error is not None for e in examples)
    print(f"explained {len(examples) - failed} of {len(examples)} comments in {page}" + (f" ({failed} could not be read)" if failed else ""))
    return 0


def run_predict_file(args: argparse.Namespace) -> int:
    from cinesense.classifier import Classifier
    from cinesense.predict_file import predict_file

    try:
        if args.engine == "ray":
            if args.read_captions:
                raise ValueError("--read-captions runs with the local engine only")
            from cinesense.predict_ray import predict_file_ray

            result = predict_file_ray(args.model, args.data, args.out, batch_size=args.batch_size, skip_invalid=args.skip_invalid,
                                      progress=not args.quiet, address=args.ray_address, num_actors=args.actors,
                                      num_cpus=args.actor_cpus, num_gpus=args.actor_gpus, read_concurrency=args.read_tasks,
                                      sticker_cache_bytes=args.sticker_cache_mb << 20, sticker_cache_dir=args.sticker_cache_dir,
                                      stem_layout=args.stem_layout)
        else:
            from cinesense.image.stem_cache import attach_sticker_cache
            from cinesense.image.stem_layout import set_stem_layout

            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            classifier = Classifier.load(args.model, device=args.device)
            _read_captions(classifier, args)
            set_stem_layout(classifier, args.stem_layout)
            if args.sticker_cache_mb or args.sticker_cache_dir:
                attach_sticker_cache(classifier, args.sticker_cache_mb << 20, args.sticker_cache_dir)
            result = predict_file(classifier, args.data, args.out, batch_size=args.batch_size, skip_invalid=args.skip_invalid,
                                  progress=not args.quiet, model_name=str(args.model))
    except KeyboardInterrupt:
        if args.engine == "ray":
            print(f"\ninterrupted; nothing was written to {args.out} (the ray engine does not resume)", file=sys.stderr)
            return 130
        print(f"\ninterrupted; {args.out} holds every finished batch: run the same command to continue", file=sys.stderr)
        return 130
    resumed = f" after line {result.resumed_after_line} (earlier run)" if result.resumed_after_line else ""
    errors = f"; {result.errors} error line(s)" if result.errors else ""
    rate = result.predicted / result.seconds if result.seconds > 0 else 0.0
    print(f"predicted {result.predicted} comments{resumed} into {args.out} in {result.seconds:.1f}s ({rate:.0f}/s){errors}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import torch
    import uvicorn

    from cinesense.classifier import Classifier
    from cinesense.image.stem_layout import set_stem_layout
    from cinesense.serve import Limits, create_app
    from cinesense.serve.app import warm_up
    from cinesense.serve.listen import address, bind

    if args.threads:
        torch.set_num_threads(args.threads)
    limits = Limits(**{item.name: getattr(args, item.name) for item in fields(Limits)})
    sock = bind(args.host, args.port)  # a busy port fails here, before the model loads and before "serving"
    try:
        classifier = Classifier.load(args.model, device=args.device)
        layout = set_stem_layout(classifier, args.stem_layout)
        warm_up(classifier)
        _read_captions(classifier, args)
        app = create_app(classifier, limits, sticker_cache_bytes=args.sticker_cache_mb << 20)
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=sock.getsockname()[1],
                                               log_level=args.log_level))
        where = address(args.host, sock.getsockname()[1])
        shown = f", conv base in {layout}" if layout else ""
        print(f"serving {args.model} ({classifier.modality_} model{shown}) on http://{where}/ (API docs at /docs)", flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


COMMANDS = {"predict": run_predict, "explain": run_explain, "predict-file": run_predict_file, "serve": run_serve}
