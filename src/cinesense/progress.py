"""Progress output of long jobs: stage lines (``say``) and progress inside a loop (``LoopProgress``)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from tqdm.auto import tqdm


def say(progress: bool, message: str) -> None:
    """A progress line (epoch summaries, stages), printed only when ``progress`` is on."""
    if progress:
        print(message, flush=True)


LOG_INTERVAL_SECONDS = float(os.environ.get("CINESENSE_PROGRESS_SECONDS", "20"))
"""How often a loop writes a progress line when stderr is not a terminal (a log file, a pipe)."""


class LoopProgress:
    """Progress inside a long loop (an epoch's batches): a tqdm bar on a terminal; elsewhere (a log
    file, ``make run | tee``) a plain line on stderr every ``interval`` seconds with the count, the
    rate and the time left, so that a long epoch on a busy machine is never silent. Nothing at all
    when ``enabled`` is false."""

    def __init__(self, total: int, description: str, enabled: bool = True, unit: str = "batches",
                 interval: float | None = None, stream: Any = None) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = LOG_INTERVAL_SECONDS if interval is None else interval
        self.enabled = enabled and total > 0
        self.done, self.postfix = 0, ""
        self.started = self.last = time.monotonic()
        live = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = tqdm(total=total, desc=description, unit=unit.rstrip("s") or unit, file=self.stream, leave=False,
                        mininterval=2.0, disable=not live)
        self.lines = self.enabled and not live

    def update(self, n: int = 1, postfix: str = "") -> None:
        self.done += n
        self.postfix = postfix
        if self.bar.disable is False:
            if postfix:
                self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(n)
        if self.lines and self.done < self.total:
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                print(self.line(now), file=self.stream, flush=True)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        extra = f", {self.postfix}" if self.postfix else ""
        return (f"{self.description}: {self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f}%), "
                f"{rate:.2f} {self.unit}/s, {_duration(elapsed)} elapsed, ETA {_duration(left)}{extra}")

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
