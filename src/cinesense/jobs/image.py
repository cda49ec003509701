"""The image job (``cinesense reproduce`` on an image config, e.g. ``configs/emoji.toml``): the
Att-VGG16 saved as ``image_model/`` with its own run record, scored beside the majority class on
test (dev when the data has no test split), and, with ``[style_cv] seeds``, the leave-one-style-out
cross-validation of the same config (:mod:`cinesense.evaluate.style_cv`); and its report."""

from __future__ import annotations

from pathlib import Path

from cinesense.config import ExperimentConfig
from cinesense.evaluate.report import results_table
from cinesense.evaluate.style_cv import style_cv, style_cv_table, style_records
from cinesense.explain.heatmap import save_heatmap
from cinesense.jobs.report import dev_scored_note, split_lines, table_heading
from cinesense.jobs.results import JobResults, system
from cinesense.jobs.scoring import majority_proba, training_prior
from cinesense.jobs.training_run import scored_split, train_run
from cinesense.progress import say

OURS = "Att-VGG16"


def run_image_job(config: ExperimentConfig, out: Path, argv: list[str] | None, progress: bool) -> JobResults:
    """Train the Att-VGG16 into ``out/image_model`` and score it and the majority class on the
    records of the scored split whose image it could read; then the style cross-validation."""
    run = train_run(config, out / "image_model", argv=argv, progress=progress)
    scored, as_scored = scored_split(run.splits)
    classifier = run.classifier
    classes = list(classifier.classes_)
    proba, kept = classifier.predict_records(as_scored.test.records)
    test = [as_scored.test.records[i] for i in kept]
    y_true = [r.label for r in test]
    prior = training_prior(run.splits.train.records, classes)
    systems = [
        system("majority class", majority_proba(prior, len(test)), classes, y_true, roc=False),
        system(OURS, proba, classes, y_true, model=classifier, ours=True, seconds=run.seconds),
    ]
    job = JobResults("image", config, run.splits, scored, test, classes, systems, {OURS: classifier.history_}, run=run)
    if config.style_cv.seeds:
        say(progress, f"leave-one-style-out cross-validation, {config.style_cv.seeds} seed(s)")
        records = style_records(config.data.labels, config.data.split_seed, config.style_cv.styles)
        job.style_cv = style_cv(config, records, config.style_cv.seeds)
    return job


def image_sections(job: JobResults, matrices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The image job's report from its results, up to its attention examples."""
    config, run = job.config, job.run
    left_out = len(run.splits.test.records if job.scored == "test" else run.splits.dev.records) - len(job.test)
    sections = [
        ("Data", dev_scored_note(job) + split_lines(job.splits, "images", sources=True)
         + f"\n\nLabelled data: `data.source = {config.data.source!r}`; model selection used dev, the {job.scored} split "
           f"only these tables." + (f" {left_out} {job.scored} image(s) could not be read and are left out." if left_out else "")),
        (table_heading(job), results_table(job.systems)
         + f"\n\nEpochs selected on dev by `train.select_metric = {config.train.select_metric!r}`; the majority class "
           "predicts the training split's most frequent label."),
        ("Training", f"{OURS}: best epoch {run.metrics['best_epoch']} of {len(run.classifier.history_.epochs)} run, "
                     f"{run.seconds:.0f} s including the conv features of every image (cached by content).\n\n"
                     "![training loss](figures/training_loss.png)"),
    ]
    if job.style_cv:
        cv = job.style_cv
        sections.append(("Leave-one-style-out (stickers in an art style never seen)", style_cv_table(cv, OURS)
                         + f"\n\nBalanced accuracy on each left-out style, mean ± sd over {len(cv['runs'])} seed(s) of this config "
                           f"(`[style_cv]`): trained on the other styles' face / gesture emoji of the identity train part "
                           f"({cv['train_images']} images in all styles), epochs on their dev part ({cv['dev_images']}); "
                           "the identity test part is never read. Styles not installed: "
                           f"{', '.join(cv['unavailable']) or 'none'}."))
    sections.append(("ROC curve and confusion matrix", "![ROC](figures/roc.png) " + " ".join(f"![confusion]({p})" for _, p in matrices)))
    return sections


def image_examples(job: JobResults, figures: Path, k: int = 6) -> str:
    """The first ``k`` scored images as the model read them, with its attention as a heat map."""
    classifier = job.run.classifier
    rows = ["| image | true | predicted (p) | attention |", "|---|---|---|---|"]
    for i, record in enumerate(job.test[:k]):
        e = classifier.explain(None, record.images[0])
        save_heatmap(record.images[0], e.image_attention, figures / f"attention_{i}.png", size=160)
        name = str(record.meta.get("emoji") or record.id).replace("|", "/")
        rows.append(f"| {name} | {record.label} | {e.label} ({e.probabilities[e.label]:.2f}) | ![attention](figures/attention_{i}.png) |")
    return "\n".join(rows)
