"""How old a run's last growth stage is, read from its training log (``logs/metrics.csv``).

A time budget gives the last stage whatever steps the machine manages in its share: over the
study's runs on the same two cores, 0.21 to 0.40 steps a second at 256x128 on different days
(docs/study.md). The study reports the age beside every run's figures, so runs are compared by
what they trained, not by the minutes they were given.
"""

from __future__ import annotations


def last_stage_age(rows: list[dict[str, str]]) -> dict[str, float | int | None]:
    """The last stage of the logged ``rows`` (``Run.metrics_rows``: text cells ``step``,
    ``time_s``, ``stage``, ``alpha``, in order): the steps it trained (``last_stage_steps``), the
    steps after its fade-in (``last_stage_faded``) and its pace in steps per second of training
    (``last_stage_rate``; None where no time passed). The stage is counted from the previous
    stage's last row, so both counts are exact to within a logging interval. No rows: all None.
    """
    if not rows:
        return dict.fromkeys(("last_stage_steps", "last_stage_faded", "last_stage_rate"))
    stage = rows[-1]["stage"]
    first = len(rows) - 1  # the stage's first row
    while first > 0 and rows[first - 1]["stage"] == stage:
        first -= 1
    start = rows[first - 1] if first > 0 else rows[first]
    end = rows[-1]
    faded = next((r for r in rows[first:] if float(r["alpha"]) >= 1.0), end)
    steps = int(end["step"]) - int(start["step"])
    seconds = float(end["time_s"]) - float(start["time_s"])
    return {
        "last_stage_steps": steps,
        "last_stage_faded": int(end["step"]) - int(faded["step"]),
        "last_stage_rate": steps / seconds if seconds > 0 else None,
    }
