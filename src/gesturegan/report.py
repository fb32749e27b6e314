"""Markdown reports: how generated gestures compare with real ones, category by category."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gestures import label

# Envelope statistics shown per category: (feature key, column title, format).
ENVELOPE_STATS = (
    ("decay_20_s", "decay to −20 dB (s)", "{:.3f}"),
    ("sustain_ratio", "sustain ratio", "{:.2f}"),
    ("variation_db", "variation (dB)", "{:.1f}"),
    ("periodicity", "periodicity", "{:.2f}"),
)


@dataclass
class CategoryStats:
    """Mean envelope statistics of a set of clips and how often the labeler agrees with the class."""

    category: str
    n: int
    means: dict[str, float]
    agreement: float  # share of clips the envelope labeler puts in ``category``


def category_stats(category: str, waves: np.ndarray, sr: int) -> CategoryStats:
    """Envelope statistics of ``waves [N, T]`` that should all belong to ``category``."""
    feats, verdicts = [], []
    for w in waves:
        cat, f = label(w, sr)
        feats.append(f)
        verdicts.append(cat)
    means = {key: float(np.mean([f[key] for f in feats])) for key, _, _ in ENVELOPE_STATS}
    agree = float(np.mean([v == category for v in verdicts])) if verdicts else 0.0
    return CategoryStats(category, len(waves), means, agree)


def envelope_table(generated: list[CategoryStats], corpus: list[CategoryStats]) -> str:
    """Markdown table: one row per category, generated value beside the corpus value per statistic."""
    by_cat = {c.category: c for c in corpus}
    head = ["category"] + [title for _, title, _ in ENVELOPE_STATS] + ["labeler agrees"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in generated:
        r = by_cat.get(g.category)
        cells = [f"`{g.category}`"]
        for key, _, fmt in ENVELOPE_STATS:
            real = fmt.format(r.means[key]) if r else "–"
            cells.append(f"{fmt.format(g.means[key])} ({real})")
        real_agree = f"{r.agreement:.0%}" if r else "–"
        cells.append(f"{g.agreement:.0%} ({real_agree})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
