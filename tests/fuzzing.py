"""Shared by the property tests (tests/test_properties_*.py) and the Schemathesis test: the example
budget, and the tally of inputs tried per entry point that ``bench/robustness.py`` reports.

The budget is small by default (the default test suite stays fast); ``CINESENSE_FUZZ_EXAMPLES=N``
scales every test's ``max_examples`` to N (``make robustness`` sets it). With
``CINESENSE_FUZZ_TALLY=FILE`` the counts of inputs tried (and, for the service, answered 2xx / 4xx)
are written to FILE as JSON when the test process ends.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 100

_tally: dict[str, Counter] = defaultdict(Counter)


def examples(default: int = DEFAULT_EXAMPLES) -> int:
    """``max_examples`` of one property: ``default``, or ``$CINESENSE_FUZZ_EXAMPLES`` scaled by ``default / 100``."""
    raw = os.environ.get("CINESENSE_FUZZ_EXAMPLES", "").strip()
    if not raw:
        return default
    return max(1, int(raw) * default // DEFAULT_EXAMPLES)


def fuzz_settings(default: int = DEFAULT_EXAMPLES, **more) -> settings:
    """Hypothesis settings of a property: the budget, no deadline (the machine is shared), no
    example database (runs do not depend on what an earlier run found), derandomised unless the
    larger budget of the report asks for fresh inputs."""
    return settings(max_examples=examples(default), deadline=None, database=None,
                    derandomize=not os.environ.get("CINESENSE_FUZZ_EXAMPLES"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture], **more)


def tried(entry: str, outcome: str = "tried") -> None:
    """Count one input given to ``entry`` (``outcome``: "tried", or e.g. "2xx" / "4xx" as well)."""
    _tally[entry][outcome] += 1


def _write() -> None:
    target = os.environ.get("CINESENSE_FUZZ_TALLY")
    if not target or not _tally:
        return
    path = Path(target)
    merged: dict[str, dict[str, int]] = {}
    if path.is_file():
        merged = json.loads(path.read_text(encoding="utf-8"))
    for entry, counts in _tally.items():
        into = merged.setdefault(entry, {})
        for outcome, n in counts.items():
            into[outcome] = into.get(outcome, 0) + n
    path.write_text(json.dumps(merged, indent=2, sort_keys=True), encoding="utf-8")


atexit.register(_write)
