"""A job's run folder written from its results, in one place: ``results.json`` (and the fused job's
``timings.json``, ``text_reading.json``, ``environment.json``), the figures, the attention examples
and ``report.md``."""

from __future__ import annotations

import time
from pathlib import Path

from cinesense.evaluate.report import write_report
from cinesense.jobs.attention import fused_examples, text_examples
from cinesense.jobs.environment import environment
from cinesense.jobs.fused_report import explained_model, fused_sections, saved_models_line
from cinesense.jobs.image import image_examples, image_sections
from cinesense.jobs.report import plot_figures, reproduce_line
from cinesense.jobs.results import JobResults
from cinesense.jobs.scoring import text_reading
from cinesense.jobs.text import text_sections
from cinesense.rundir import write_json


def write_results(job: JobResults, out: Path) -> None:
    """``results.json``: each system's metrics. The fused job keeps the timings apart, in
    ``timings.json``, so that its results.json holds only what the run computed (the same bytes from
    the same command); the text and image jobs' results.json carries each system's seconds and comments/s beside its
    metrics, ``transfer.json`` its metrics on each ``data.transfer`` file and ``style_cv.json`` the image job's
    leave-one-style-out cross-validation."""
    if job.kind == "fused":
        write_json(out / "results.json", {s.name: {"metrics": s.metrics} for s in job.systems})
        write_json(out / "timings.json", {s.name: {"seconds": s.seconds} for s in job.systems})
        write_json(out / "text_reading.json", text_reading(job.systems, job.test))
        write_json(out / "environment.json", environment())
    else:
        write_json(out / "results.json", {s.name: {"metrics": s.metrics, "seconds": s.seconds, "comments_per_second": s.per_second} for s in job.systems})
        if job.transfer:
            write_json(out / "transfer.json", {path: {s.name: {"metrics": s.metrics} for s in systems} for path, systems in job.transfer.items()})
        if job.style_cv:
            write_json(out / "style_cv.json", job.style_cv)


def write_run(job: JobResults, out: Path, argv: list[str] | None, started: float) -> Path:
    """Every file of the job's results into ``out``; returns the report's path (also set as
    ``job.report``). ``started``: when the job began (``time.perf_counter()``), for its duration."""
    write_results(job, out)
    figures = out / "figures"
    matrices = plot_figures(job, figures)
    if job.kind == "fused":
        sections = fused_sections(job, matrices)
        examples = fused_examples(explained_model(job), job.test, figures)
    elif job.kind == "image":
        sections, examples = image_sections(job, matrices), image_examples(job, figures)
    else:
        sections = text_sections(job, matrices)
        examples = text_examples(job.run.classifier, job.test, k=6)
    line = reproduce_line(argv, time.perf_counter() - started) + (saved_models_line(job) if job.kind == "fused" else "")
    sections += [(f"What the attention looked at ({job.scored} examples)", examples), ("Reproduce", line)]
    job.report = write_report(out / "report.md", f"cinesense report: {job.config.name}", sections)
    return job.report
