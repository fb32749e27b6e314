"""``gesturegan survey report``: a survey's answers as a Markdown report with PNG figures.

Everything is computed from the answers CSV (``store.CSV_COLUMNS``), which is copied beside the
report, so a reader can recompute any figure from the file it came from:

- real or generated, per category: share of correct answers with a 95 % Wilson interval, and d'
  (hits: real clips called real; false alarms: generated clips called real);
- category identification: the confusion matrix (true category x answered category), real and
  generated clips (morphs have no true category);
- mean opinion score (1–5) with 95 % Student-t intervals per kind of clip and per category;
- agreement between participants: Krippendorff's alpha for each question (nominal for the two
  choices, interval for the rating), over clips answered by two participants or more;
- each participant's share correct, and how many participants, answers and clips.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..atomic import atomic_path, write_text
from . import stats

KINDS = ("real", "generated", "morph")


def figures(rows: list[dict], categories: list[str]) -> dict:
    """Every figure of the report from CSV rows (strings, as ``csv.DictReader`` gives them)."""
    real = [r for r in rows if r["kind"] in ("real", "generated")]
    discrimination = {}
    for cat in [*categories, None]:
        mine = [r for r in real if cat is None or r["true_category"] == cat]
        if not mine:
            continue
        sig = [r for r in mine if r["kind"] == "real"]
        noise = [r for r in mine if r["kind"] == "generated"]
        hits = sum(r["answered_real"] == "real" for r in sig)
        false_alarms = sum(r["answered_real"] == "real" for r in noise)
        correct = hits + len(noise) - false_alarms
        discrimination["all" if cat is None else cat] = {
            **stats.wilson(correct, len(mine)),
            "d_prime": stats.d_prime(hits, len(sig), false_alarms, len(noise)),
            "hits": hits, "real": len(sig), "false_alarms": false_alarms, "generated": len(noise),
        }  # fmt: skip
    confusion = np.zeros((len(categories), len(categories)), dtype=int)
    for r in real:
        if r["true_category"] in categories and r["answered_category"] in categories:
            confusion[categories.index(r["true_category"]),
                      categories.index(r["answered_category"])] += 1  # fmt: skip
    identified = int(np.trace(confusion))
    mos_kind = {
        k: stats.mean_ci([float(r["rating"]) for r in rows if r["kind"] == k])
        for k in KINDS
        if any(r["kind"] == k for r in rows)
    }
    mos_category = {}
    for cat in categories:
        for kind in ("real", "generated"):
            values = [float(r["rating"]) for r in rows
                      if r["kind"] == kind and r["true_category"] == cat]  # fmt: skip
            if values:
                mos_category[f"{cat} ({kind})"] = stats.mean_ci(values)
    units: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        units["real_or_generated"][r["stimulus"]].append(r["answered_real"])
        if r["true_category"]:
            units["category"][r["stimulus"]].append(r["answered_category"])
        units["rating"][r["stimulus"]].append(float(r["rating"]))
    agreement = {
        q: stats.krippendorff_alpha(units[q], stats.interval if q == "rating" else stats.nominal)
        for q in ("real_or_generated", "category", "rating")
    }
    by_participant = {}
    for who in sorted({r["participant"] for r in rows}):
        mine = [r for r in real if r["participant"] == who]
        by_participant[who] = {
            "answers": sum(r["participant"] == who for r in rows),
            "real_or_generated": stats.wilson(sum(r["real_correct"] == "1" for r in mine), len(mine)),
            "category": stats.wilson(sum(r["category_correct"] == "1" for r in mine), len(mine)),
        }
    return {
        "participants": len({r["participant"] for r in rows}),
        "answers": len(rows),
        "clips": len({r["stimulus"] for r in rows}),
        "discrimination": discrimination,
        "confusion": confusion.tolist(),
        "identification": stats.wilson(identified, int(confusion.sum())),
        "mos_by_kind": mos_kind,
        "mos_by_category": mos_category,
        "agreement": agreement,
        "by_participant": by_participant,
    }


def read_csv(text: str) -> list[dict]:
    """The rows of an answers CSV."""
    return list(csv.DictReader(io.StringIO(text)))


def write_report(csv_text: str, categories: list[str], out: str | Path, title: str) -> Path:
    """Write ``report.md``, its figures (``*.png``) and ``answers.csv`` into ``out``; returns
    the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_csv(csv_text)
    f = figures(rows, categories)
    write_text(out / "answers.csv", csv_text)
    _plot_discrimination(f, out / "discrimination.png")
    _plot_confusion(f, categories, out / "confusion.png")
    _plot_mos(f, out / "mos.png")
    return write_text(out / "report.md", markdown(f, categories, title))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def markdown(f: dict, categories: list[str], title: str) -> str:
    """The report's text for figures ``f`` (see ``figures``)."""
    lines = [
        f"# {title}",
        "",
        f"{f['participants']} participants, {f['answers']} answers, {f['clips']} clips. "
        "Source: [answers.csv](answers.csv) (one row per answer, truth beside it). Intervals are "
        "95 %: Wilson for shares, Student t for means.",
        "",
        "## Real or generated?",
        "",
        "Share of correct answers (chance: 50 %) and d' (0: cannot tell; hits are real clips "
        "called real, false alarms generated clips called real; rates corrected as "
        "(k + 0.5) / (n + 1)).",
        "",
        "| category | answers | correct | 95 % interval | hits | false alarms | d' |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for cat, d in f["discrimination"].items():
        lines.append(
            f"| {cat} | {d['n']} | {_pct(d['share'])} | {_pct(d['low'])} – {_pct(d['high'])} | "
            f"{d['hits']}/{d['real']} | {d['false_alarms']}/{d['generated']} | "
            f"{_num(d['d_prime'])} |"
        )
    ident = f["identification"]
    lines += [
        "",
        "![real or generated](discrimination.png)",
        "",
        "## Which category?",
        "",
        f"Identified correctly: {_pct(ident['share'])} of {ident['n']} answers "
        f"({_pct(ident['low'])} – {_pct(ident['high'])}; chance "
        f"{_pct(1 / len(categories) if categories else None)}). Rows: the true category; "
        "columns: the answer.",
        "",
        "| true \\ answered | " + " | ".join(categories) + " |",
        "|---|" + "---:|" * len(categories),
    ]
    for cat, row in zip(categories, f["confusion"], strict=True):
        lines.append(f"| {cat} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "![confusion matrix](confusion.png)", "", "## Mean opinion score (1–5)", "",
              "| clips | answers | mean | 95 % interval |", "|---|---:|---:|---|"]  # fmt: skip
    for name, m in [*f["mos_by_kind"].items(), *f["mos_by_category"].items()]:
        lines.append(f"| {name} | {m['n']} | {_num(m['mean'])} | "
                     f"{_num(m['low'])} – {_num(m['high'])} |")  # fmt: skip
    lines += [
        "",
        "![mean opinion score](mos.png)",
        "",
        "## Agreement between participants",
        "",
        "Krippendorff's alpha over the clips answered by two participants or more (1: all agree, "
        "0: agreement at chance level; nominal for the choices, interval for the rating).",
        "",
        "| question | alpha |",
        "|---|---:|",
    ]
    for q, a in f["agreement"].items():
        lines.append(f"| {q.replace('_', ' ')} | {_num(a, 3)} |")
    lines += ["", "## Each participant", "",
              "Over real and generated clips: a participant far from the others (at chance, or "
              "always the same answer) shows here.", "",
              "| participant | answers | real or generated correct | category correct |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for who, p in f["by_participant"].items():
        lines.append(f"| {who} | {p['answers']} | {_pct(p['real_or_generated']['share'])} | "
                     f"{_pct(p['category']['share'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height))


def _plot_discrimination(f: dict, path: Path) -> None:
    fig = _figure(6, 3.2)
    ax = fig.add_subplot()
    names = list(f["discrimination"])
    d = [f["discrimination"][n] for n in names]
    share = np.array([x["share"] for x in d])
    err = np.array([[x["share"] - x["low"] for x in d], [x["high"] - x["share"] for x in d]])
    ax.bar(names, share, yerr=err, capsize=4, color="#4a7bd0")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.text(1.01, 0.5, "chance", transform=ax.get_yaxis_transform(), va="center", color="grey",
            fontsize=8)  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_ylabel("share correct (real or generated)")
    for i, x in enumerate(d):
        if x["d_prime"] is not None:
            ax.text(i, 0.03, f"d'={x['d_prime']:.2f}", ha="center", color="white", fontsize=8)
    _save(fig, path)


def _plot_confusion(f: dict, categories: list[str], path: Path) -> None:
    fig = _figure(1.2 + 0.7 * len(categories), 1.0 + 0.6 * len(categories))
    ax = fig.add_subplot()
    counts = np.array(f["confusion"], dtype=float).reshape(len(categories), len(categories))
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(categories)):
        for j in range(len(categories)):
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=8)  # fmt: skip
    ax.set_xticks(range(len(categories)), categories, rotation=45, ha="right")
    ax.set_yticks(range(len(categories)), categories)
    ax.set_xlabel("answered")
    ax.set_ylabel("true category")
    _save(fig, path)


def _plot_mos(f: dict, path: Path) -> None:
    items = [*f["mos_by_kind"].items(), *f["mos_by_category"].items()]
    fig = _figure(6, 0.8 + 0.32 * max(1, len(items)))
    ax = fig.add_subplot()
    for i, (_, m) in enumerate(items):
        ax.plot([m["mean"]], [i], "o", color="#d0704a")
        if m["low"] is not None:
            ax.plot([m["low"], m["high"]], [i, i], color="#d0704a")
    ax.set_yticks(range(len(items)), [name for name, _ in items])
    ax.invert_yaxis()
    ax.set_xlim(0.8, 5.2)
    ax.set_xlabel("mean opinion score (1–5), 95 % interval")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)
