"""Token <-> id mapping, saved as JSON. Id 0 is padding, id 1 stands for unknown tokens."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """An ordered token list with ``<pad>`` at 0 and ``<unk>`` at 1."""

    def __init__(self, tokens: Iterable[str]) -> None:
        words = [t for t in tokens if t not in (PAD, UNK)]
        self.itos: list[str] = [PAD, UNK, *dict.fromkeys(words)]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token ids; unknown tokens map to 1. An empty input gives ``[1]`` (one unknown token)."""
        ids = [self.stoi.get(t, 1) for t in tokens]
        return ids or [1]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        path = Path(path)
        try:
            itos = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: vocabulary file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: vocabulary is not valid JSON ({error})") from None
        except RecursionError:
            raise ValueError(f"{path}: vocabulary is not valid JSON (nested too deeply)") from None
        if not isinstance(itos, list) or itos[:2] != [PAD, UNK] or not all(isinstance(t, str) for t in itos):
            raise ValueError(f"{path}: vocabulary must be a JSON list of strings starting with {PAD!r}, {UNK!r}")
        if len(set(itos)) != len(itos):
            raise ValueError(f"{path}: vocabulary has duplicate tokens")
        bad = next((t for t in itos if not t.isprintable() and any("\ud800" <= c <= "\udfff" for c in t)), None)
        if bad is not None:  # an escaped lone surrogate: valid JSON, but no character (the file could not be written back)
            raise ValueError(f"{path}: vocabulary token {bad!r} is not valid Unicode (a lone surrogate)")
        return cls(itos)
