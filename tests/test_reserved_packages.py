"""The packages reserved for independent evaluation (npm emoji-datasource-*, wechat-emoji-parser) are
never used by the project's code: not imported, fetched or named as a style source."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESERVED = re.compile(r"emoji[-_]datasource|wechat[-_]emoji", re.IGNORECASE)


def test_reserved_packages_are_not_imported_or_fetched():
    offenders = []
    for folder in ("src", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if RESERVED.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for name in ("Makefile", "pyproject.toml"):
        if (ROOT / name).is_file() and RESERVED.search((ROOT / name).read_text(encoding="utf-8")):
            offenders.append(name)
    assert not offenders, "reserved evaluation packages referenced:\n" + "\n".join(offenders)


def test_no_emoji_style_comes_from_a_reserved_package():
    from cinesense.data.emoji_render import NPM_STYLES

    assert not [s.package for s in NPM_STYLES.values() if RESERVED.search(s.package)]
