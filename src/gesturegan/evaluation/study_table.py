"""The study's table: ``study.csv`` (one row per run), ``study.md`` (per dataset and per class,
mean ± spread over seeds, then every run) and ``study.png``.

Rows are ``study.judge_run``'s dicts. Every figure comes from the independent judge on the
dataset's held-out clips (``fd`` / ``fd_rr``: Fréchet distance of the generated clips and of the
held-out half of the real ones, in weight-free features; ``fd_ratio`` = ``fd / fd_rr``;
``floor_fd_ratio`` the same for the held-out clips encoded and decoded) or from a
checker that never saw the library (``category_check``) — see docs/study.md.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..judge.config import JudgeConfig

GROUP = ("data", "repr", "model", "augment")
COLUMNS = (
    "name", *GROUP, "seed", "steps", "train_min", "stage", "last_stage_steps", "last_stage_faded",
    "last_stage_rate", "gen_rtf", "judged_on", "held_out",
    "fd", "fd_rr", "fd_rr_lo", "fd_rr_hi", "fd_ratio", "floor_fd_ratio", "kad", "kad_rr",
    "precision", "recall", "recall_rr", "randnet_fd_ratio", "category_check", "labeler",
    "category_check_real", "labeler_real", "frame", "silent_share", "silent_share_real",
    "end_rise", "end_rise_real",
)  # fmt: skip
SUMMARY = ("fd_ratio", "floor_fd_ratio", "fd", "fd_rr", "kad", "precision", "recall",
           "randnet_fd_ratio", "category_check", "category_check_real", "labeler",
           "labeler_real")  # fmt: skip
DISTANCES = SUMMARY[: SUMMARY.index("category_check")]
"""The summary's figures shown as plain columns (the checks follow, with their real-clip figure)."""
GOAL_RATIO = 1.5
"""docs/study.md's goal: Fréchet distance within 1.5x of real-vs-real."""
GOAL_CHECK = 0.85
"""docs/study.md's goal: the share of generated clips the category check places in their class."""


def write_table(out: Path, rows: list[dict[str, Any]]) -> Path:
    """OUT/study.csv, OUT/study.png and OUT/study.md from the runs' rows; returns study.md."""
    from ..plots import study_plot

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: fmt(r.get(k)) for k in COLUMNS})
    write_text(out / "study.csv", buf.getvalue())
    check = "category_check" if any(r.get("category_check") is not None for r in rows) else "labeler"
    study_plot(
        rows,
        "fd_ratio",
        check,
        out / "study.png",
        {"real vs real": 1.0, f"goal {GOAL_RATIO:g}x": GOAL_RATIO},
        (
            "Fréchet distance / real-vs-real, weight-free features (lower is better)",
            f"share placed in their category ({check.replace('_', ' ')})",
        ),
        y_references={f"goal {GOAL_CHECK:.0%}": GOAL_CHECK} if check == "category_check" else None,
        y_limits=(0.0, 1.0),
    )
    return write_text(out / "study.md", markdown(rows))


def summarize(rows: list[dict[str, Any]], category: str | None = None) -> list[dict[str, Any]]:
    """Mean and spread (half the range) over seeds of each (data, repr, model, augment) group, of
    the overall figures or those of one ``category``; one row per group, in the runs' order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in GROUP), []).append(
            r if category is None else r["per_class"].get(category, {})
        )
    out = []
    for key, members in groups.items():
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        row["seeds"] = len(members)
        for name in SUMMARY:
            values = np.array([m.get(name) for m in members if m.get(name) is not None], float)
            row[name] = float(values.mean()) if len(values) else None
            row[f"{name}_spread"] = float(np.ptp(values)) / 2 if len(values) > 1 else None
        out.append(row)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The study's tables in Markdown."""
    head = (
        "| data | repr | model | augment | seeds | Fréchet / real-vs-real ↓ | decoder floor ↓ "
        "| Fréchet ↓ | real-vs-real | KAD ↓ | precision ↑ | recall ↑ | random nets FD / rr ↓ "
        "| category check ↑ (real) | labeler ↑ (real) |\n" + "|---" * 15 + "|\n"
    )

    def lines(summary: list[dict[str, Any]]) -> str:
        return "".join(
            f"| {g['data']} | {g['repr']} | {g['model']} | {g['augment']} | {g['seeds']} "
            + "".join(f"| {pm(g, k)} " for k in DISTANCES)
            + f"| {pm(g, 'category_check', percent=True)} ({pct(g['category_check_real'])}) "
            + f"| {pm(g, 'labeler', percent=True)} ({pct(g['labeler_real'])}) |\n"
            for g in summary
        )

    categories = list(dict.fromkeys(c for r in rows for c in r["per_class"]))
    per_class = "".join(f"\n### {c}\n\n{head}{lines(summarize(rows, c))}" for c in categories)
    run_head = (
        "| run | steps | train min | stage | its steps (faded in), steps/s | gen × real time "
        "| held-out clips | Fréchet / rr | decoder floor | category check | labeler | frame "
        "| silent pixels (real) | end rise (real) |\n" + "|---" * 14
        + "|\n"
    )
    runs = "".join(
        f"| {r['name']} | {r['steps']} | {fmt(r['train_min'])} | {r['stage']} "
        f"| {age(r)} "
        f"| {fmt(r['gen_rtf'])} | {r['held_out']} | {fmt(r['fd_ratio'])} "
        f"| {fmt(r.get('floor_fd_ratio'))} "
        f"| {pct(r.get('category_check'))} | {pct(r['labeler'])} | {fmt(r.get('frame'))} "
        f"| {pct(r.get('silent_share'))} ({pct(r.get('silent_share_real'))}) "
        f"| {pct(r.get('end_rise'))} ({pct(r.get('end_rise_real'))}) |\n"
        for r in rows
    )
    skipped = sorted({s for r in rows for s in r.get("skipped", [])})
    notes = "".join(f"- {s}\n" for s in skipped)
    intro = (
        "Every figure judges the generated clips against held-out clips (of the run's own "
        "dataset, or of `--eval-data`: training never saw them), in weight-free features unless "
        "named. Mean ± half the range over seeds. Real-vs-real is the Fréchet distance of one half "
        "of the held-out clips from the other: a ratio of 1 is as close as real sounds come (goal "
        f"≤ {GOAL_RATIO:g}); overall, the generated clips are drawn in the held-out clips' mix of "
        f"classes, and the judge hears nothing under {JudgeConfig().floor_db:g} dB "
        "(docs/evaluation.md). The decoder floor is the same ratio for the held-out clips passed "
        "through the run's representation alone (encoded and decoded): where a generator that drew "
        "every image perfectly would land. In brackets beside each category check: the same "
        "checker on the held-out real clips, what it reaches on real sounds. Per run, three image "
        "diagnostics (`evaluation/borders.py`, not the judge's): the frame, how far the borders of "
        "the generated images stand out unlike the real ones' (0: alike); the share of the images' "
        "pixels at silence (-1 in a magnitude image); and the share of clips whose last "
        "12 ms rise 6 dB above the 35 ms before (the held-out clips' shares in brackets)."
    )
    return (
        f"# Study\n\n{intro}\n\n{head}{lines(summarize(rows))}\n## Per class\n{per_class}\n"
        f"## Runs\n\n{run_head}{runs}\n![study](study.png)\n"
        + (f"\n## Left out by the judge\n\n{notes}" if notes else "")
    )


def pm(group: dict[str, Any], key: str, percent: bool = False) -> str:
    """``mean ± spread`` of a summary row's figure (as a percentage with ``percent``)."""
    show = pct if percent else fmt
    spread = group.get(f"{key}_spread")
    value = show(group.get(key))
    return value if spread is None else f"{value} ± {show(spread)}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def age(row: dict[str, Any]) -> str:
    """A run's last stage as the run table shows it: ``210 (100), 0.401`` (steps, steps after
    the fade-in, steps a second); "" for a run without a training log."""
    if row.get("last_stage_steps") is None:
        return ""
    return f"{row['last_stage_steps']} ({row['last_stage_faded']}), {fmt(row['last_stage_rate'])}"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "–" if np.isnan(value) else f"{value:.3g}"
    return str(value)
