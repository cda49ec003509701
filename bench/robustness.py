"""The robustness report (issue 16): the property tests and the Schemathesis run with a larger
budget, and ``runs/robustness/report.md``: per entry point, the inputs tried (counted by the tests
as they run, ``tests/fuzzing.py``), the failures found and fixed (``tests/robustness_regressions.json``,
each with the regression test that covers it) and whether that test passes now.

    .venv/bin/python bench/robustness.py [--examples N] [--out runs/robustness]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/test_properties_data.py", "tests/test_properties_config.py", "tests/test_properties_text.py",
         "tests/test_properties_bundle.py", "tests/test_properties_crawl.py", "tests/test_properties_image.py",
         "tests/test_schemathesis.py", "tests/test_robustness_regressions.py", "tests/test_durability.py"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="max_examples of a property of the default budget 100 (scaled for the others)")
    parser.add_argument("--out", default="runs/robustness")
    args = parser.parse_args(argv)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    tally, junit = out / "tally.json", out / "junit.xml"
    tally.unlink(missing_ok=True)
    env = {**os.environ, "CINESENSE_FUZZ_EXAMPLES": str(args.examples), "CINESENSE_FUZZ_TALLY": str(tally)}
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"], cwd=ROOT, env=env)
    seconds = time.monotonic() - started
    counts = json.loads(tally.read_text(encoding="utf-8")) if tally.is_file() else {}
    outcomes = _outcomes(junit)
    regressions = json.loads((ROOT / "tests" / "robustness_regressions.json").read_text(encoding="utf-8"))
    report = _report(counts, outcomes, regressions, args.examples, seconds, code)
    (out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {out / 'report.md'}")
    return code


def _outcomes(junit: Path) -> dict[str, str]:
    """``file::test`` -> "passed" / "failed" / "skipped", from pytest's JUnit XML."""
    if not junit.is_file():
        return {}
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[-1]
        state = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        outcomes[f"tests/{module}.py::{case.get('name')}"] = state
    return outcomes


def _report(counts, outcomes, regressions, examples, seconds, code) -> str:
    found: dict[str, int] = defaultdict(int)
    fixed: dict[str, int] = defaultdict(int)
    for item in regressions:
        found[item["entry"]] += 1
        fixed[item["entry"]] += int(item["fixed"] and outcomes.get(item["test"]) == "passed")
    failing = sorted(name for name, state in outcomes.items() if state == "failed")
    lines = [
        "# Robustness report (issue 16)", "",
        f"Property tests (Hypothesis) and Schemathesis with `CINESENSE_FUZZ_EXAMPLES={examples}`; {seconds / 60:.1f} min; "
        f"pytest exit code {code}; {sum(s == 'passed' for s in outcomes.values())} tests passed, {len(failing)} failed.", "",
        "Inputs tried: counted by the tests as each input is given to the entry point. Failures found / fixed: "
        "`tests/robustness_regressions.json` (every failure these tests found, with its regression test); "
        "fixed = the regression test passed in this run.", "",
        "| entry point | inputs tried | answered (service) | failures found | failures fixed |",
        "|---|---:|---|---:|---:|",
    ]
    for entry in sorted(set(counts) | set(found)):
        tally = counts.get(entry, {})
        answered = ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()) if k != "tried") or ""
        lines.append(f"| {entry} | {tally.get('tried', 0):,} | {answered} | {found.get(entry, 0)} | {fixed.get(entry, 0)} |")
    total = sum(c.get("tried", 0) for c in counts.values())
    lines += [f"| **all** | **{total:,}** | | **{sum(found.values())}** | **{sum(fixed.values())}** |", "", "## Failures found and fixed", ""]
    for item in regressions:
        state = outcomes.get(item["test"], "not run")
        lines.append(f"- {item['entry']}: {item['failure']} (found by {item['found_by']}; `{item['test']}`: {state})")
    if failing:
        lines += ["", "## Failing now", "", *[f"- `{name}`" for name in failing]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
