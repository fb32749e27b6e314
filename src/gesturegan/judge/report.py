"""The judge's figures as a readable table (one per group) or as one JSON object."""

from __future__ import annotations

import json

from .compare import SETS, Comparison
from .distances import LOWER_IS_BETTER

SET_TITLES = {"a_vs_b": "A vs B", "real_vs_real": "A vs A (halves)", "real_vs_noise": "A vs noise"}


def to_json(comparison: Comparison, a: str, b: str) -> str:
    """One JSON object: the paths, then ``Comparison.to_dict``."""
    return json.dumps({"a": a, "b": b, **comparison.to_dict()})


def table(comparison: Comparison, a: str, b: str) -> str:
    """Markdown tables: per group, every space and metric, ``median [lo, hi]`` per set, and where
    A-vs-B lies between real-vs-real (0) and real-vs-noise (1)."""
    c = comparison
    interval = round(100 * c.config["interval"])
    lines = [f"A = {a} ({c.n_a} clips), B = {b} ({c.n_b} clips); median [{interval} % interval] "
             f"over {c.config['rounds']} random halves of A", ""]  # fmt: skip
    for group, figures in c.figures.items():
        size = c.groups[group]
        lines += [f"### {group} ({size['reference']} reference clips of A, {size['n']} per scored set)",
                  "", "| space | metric | better | " + " | ".join(SET_TITLES[s] for s in SETS)
                  + " | position |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for space, metrics in figures.items():
            for metric, sets in metrics.items():
                pos = c.position[group][space].get(metric)
                cells = [_cell(sets[s]) for s in SETS]
                better = "lower" if LOWER_IS_BETTER[metric] else "higher"
                lines.append(f"| {space} | {metric} | {better} | {' | '.join(cells)} | "
                             f"{'' if pos is None else f'{pos:.2f}'} |")  # fmt: skip
        lines.append("")
    lines.append("position: (A vs B − A vs A) / (A vs noise − A vs A) of the medians: 0 reads as "
                 "real, 1 as noise.")  # fmt: skip
    if c.skipped:
        lines += ["", f"skipped ({len(c.skipped)}):", *(f"  {s}" for s in c.skipped)]
    return "\n".join(lines)


def _cell(fig: dict) -> str:
    return f"{_num(fig['median'])} [{_num(fig['lo'])}, {_num(fig['hi'])}]"


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
