"""The ``cinesense`` command line: train, evaluate, predict, explain, predict-file, serve, reproduce, weights."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cinesense.bundle import BundleError
from cinesense.cli_serving import COMMANDS as SERVING_COMMANDS
from cinesense.cli_serving import add_commands as add_serving_commands
from cinesense.config import ConfigError, load_config
from cinesense.crawl.cli import add_crawl_parser, add_import_parser, run_crawl, run_import
from cinesense.data.schema import DataError
from cinesense.image.weights import WeightsError


def _add_config_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        parser.add_argument("--config", type=Path, required=True, action="append",
                            help="experiment config (TOML); repeat it for several data sets: one run each under OUT/NAME, and a combined report")
    else:
        parser.add_argument("--config", type=Path, required=True, help="experiment config (TOML)")
    parser.add_argument("--out", type=Path, required=True,
                        help="run directory to create: missing or empty, unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out: the run is written beside it and swapped in only when it succeeds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=3 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cinesense", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and save it into a run directory")
    _add_config_arguments(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a JSONL file")
    evaluate.add_argument("--model", type=Path, required=True, help="model directory")
    evaluate.add_argument("--data", type=Path, required=True, help="labelled data in the shared JSONL format")
    evaluate.add_argument("--json", type=Path, help="write the metrics as JSON here")
    evaluate.add_argument("--skip-invalid", action="store_true", help="skip (and count) invalid lines")

    add_serving_commands(commands)  # predict, explain, predict-file, serve

    reproduce = commands.add_parser("reproduce", help="the main job: data, Word2Vec, models, baselines, report")
    _add_config_arguments(reproduce, many=True)

    clean = commands.add_parser("clean", help="drop advertising / irrelevant images from a JSONL file (paper §3.1)")
    clean.add_argument("--data", type=Path, required=True, help="input, shared JSONL format")
    clean.add_argument("--out", type=Path, required=True, help="output JSONL (records whose image was dropped are left out)")
    clean.add_argument("--report", type=Path, help="what was dropped and why (.csv or .jsonl); default OUT.dropped.jsonl")
    clean.add_argument("--max-aspect-ratio", type=float, default=3.0, help="drop banners longer than this ratio")
    clean.add_argument("--max-comments-per-image", type=int, default=10,
                       help="drop an image (perceptual hash) attached to more distinct comments than this; 0 = off")
    clean.add_argument("--blocklist", type=Path, help="file of SHA-256 digests (one a line) of images to drop")

    data = commands.add_parser("data", help="build data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    emoji = data_commands.add_parser("emoji", help="build the labelled emoji-image corpus")
    emoji.add_argument("--out", type=Path, required=True, help="output folder")
    emoji.add_argument("--seed", type=int, default=0)
    add_import_parser(data_commands)  # data import: a crawl folder -> training-ready JSONL
    add_crawl_parser(commands)  # crawl tencent, crawl endpoints

    weights = commands.add_parser("weights", help="pretrained weights")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    fetch = weights_commands.add_parser("fetch", help="fetch ImageNet VGG16 conv weights into the cache")
    fetch.add_argument("--cache-dir", type=Path, default=None, help="default: $CINESENSE_CACHE or ~/.cache/cinesense")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, DataError, BundleError, WeightsError, ValueError) as error:
        print(f"cinesense {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder where a file was expected, a read-only disk, ...: the path, not a traceback
        paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
        shown = f"{' -> '.join(paths)}: {error.strerror or error}" if paths else str(error)
        print(f"cinesense {args.command}: error: {shown}", file=sys.stderr)
        return 2


def run_train(args: argparse.Namespace) -> int:
    from cinesense.experiment import train_run
    from cinesense.rundir import run_folder

    config = load_config(args.config, args.overrides)
    with run_folder(args.out, overwrite=args.overwrite) as folder:  # in place only when training succeeds
        run = train_run(config, folder, argv=["cinesense", *sys.argv[1:]], progress=not args.quiet)
    dev = run.metrics.get("dev")
    shown = f"; dev accuracy {dev['accuracy']:.4f}, macro-F1 {dev['macro_f1']:.4f}" if dev else ""
    print(f"saved model to {args.out} ({run.seconds:.0f}s{shown})")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from cinesense.classifier import Classifier
    from cinesense.data.jsonl import load_jsonl
    from cinesense.experiment import evaluate

    from cinesense.data.schema import check_input_file, check_output_file

    check_input_file(args.data)
    if args.json:
        check_output_file(args.json)  # a folder given as --json: said now, not after the work
    classifier = Classifier.load(args.model)
    data = load_jsonl(args.data, skip_invalid=args.skip_invalid)
    # without --skip-invalid, a record the model cannot score as given (a label it does not know, no
    # text for a text model, an unreadable image, ...) stops with its file and line; with it, the
    # record is left out and counted by reason
    metrics, _ = evaluate(classifier, data.records, source=args.data, invalid="skip" if args.skip_invalid else "error")
    skipped = data.skipped_summary()
    for reason, count in metrics["skipped"].items():
        skipped[reason] = skipped.get(reason, 0) + count
    metrics.update(data=str(args.data), model=str(args.model), skipped=skipped)
    text = json.dumps(metrics, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    keys = ("n", "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc")
    print("  ".join(f"{k}={metrics[k]:.4f}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys))
    if skipped:
        shown = ", ".join(f"{reason} {count}" for reason, count in skipped.items())
        print(f"skipped {sum(skipped.values())} record(s), left out of the metrics: {shown}")
    if metrics["n_unreadable"]:
        print(f"{metrics['n_unreadable']} record(s) with {metrics['n_unreadable_images']} unreadable image(s): "
              f"{metrics['unreadable_policy']} (each one under 'unreadable' in the JSON)")
    return 0


def run_reproduce(args: argparse.Namespace) -> int:
    from cinesense.pipeline import reproduce, reproduce_many
    from cinesense.rundir import run_folder

    configs = [load_config(path, args.overrides) for path in args.config]
    argv = ["cinesense", *sys.argv[1:]]
    with run_folder(args.out, overwrite=args.overwrite) as folder:  # the whole --out (every OUT/NAME) is one unit
        if len(configs) == 1:
            report = reproduce(configs[0], folder, argv=argv, progress=not args.quiet)
        else:
            report = reproduce_many(configs, folder, argv=argv, progress=not args.quiet)
    print(f"report written to {args.out / report.relative_to(folder)}")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from cinesense.image.weights import fetch_vgg16_weights

    path = fetch_vgg16_weights(args.cache_dir)
    print(f"VGG16 ImageNet conv weights: {path}")
    return 0


def run_clean(args: argparse.Namespace) -> int:
    import os

    from cinesense.data.jsonl import load_jsonl, write_jsonl
    from cinesense.data.schema import check_input_file, check_output_file
    from cinesense.image.clean import clean_images, write_clean_report

    report_path = args.report or args.out.with_suffix(".dropped.jsonl")
    for path in (args.out, report_path):  # checked before any work: a folder, or the input itself
        check_output_file(path)
        if path.exists() and check_input_file(args.data) and os.path.samefile(path, args.data):
            raise DataError(f"{path} is the input file {args.data}; --out and --report must name other files")
    records = load_jsonl(args.data, require_label=False).records
    blocklist = frozenset()
    if args.blocklist:
        check_input_file(args.blocklist)
        blocklist = frozenset(line.strip().lower() for line in args.blocklist.read_text(encoding="utf-8").splitlines() if line.strip())
    pairs = [(r.id, path) for r in records for path in r.images]
    result = clean_images(
        pairs, max_aspect_ratio=args.max_aspect_ratio, max_comments_per_image=args.max_comments_per_image or None,
        blocklist_sha256=blocklist,
    )
    dropped_ids = {item[0] for item, _ in result.dropped}
    write_jsonl([r for r in records if r.id not in dropped_ids], args.out)
    report = write_clean_report(result, report_path)
    counts = ", ".join(f"{k} {v}" for k, v in result.reason_counts().items()) or "nothing"
    print(f"kept {len(records) - len(dropped_ids)} of {len(records)} records; dropped: {counts}; details in {report}")
    return 0


def run_data(args: argparse.Namespace) -> int:
    if args.data_command == "import":
        return run_import(args)
    from cinesense.data.emoji import build_emoji_corpus

    summary = build_emoji_corpus(args.out, seed=args.seed)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}, ensure_ascii=False, indent=2))
    return 0


COMMANDS = {
    "clean": run_clean,
    "data": run_data,
    "crawl": run_crawl,
    "train": run_train,
    "evaluate": run_evaluate,
    "reproduce": run_reproduce,
    "weights": run_weights,
    **SERVING_COMMANDS,
}

if __name__ == "__main__":
    raise SystemExit(main())
