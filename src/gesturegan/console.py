"""Progress display for long work: a rich bar driven by ``callback(done, total)``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``callback(done, total)`` that draws a progress bar on stderr (no-op if disabled).

    The bar is shown from the first call of the callback on.
    """
    if not enabled:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    )
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:  # the bar appears with the first report, not before: a command that
            bar.start()  # fails at once on a bad argument prints its one-line error only
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
