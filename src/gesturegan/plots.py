"""Pictures for reports: spectrogram grids, morph strips, training curves, energy envelopes,
evaluation figures over training and study comparisons.

Every function draws on its own ``matplotlib.figure.Figure`` (the Agg renderer, no pyplot state, so
it is safe from worker threads and servers) and writes a PNG atomically, returning its path.
Waves are ``[T]`` or ``[N, T]`` float32 in [-1, 1] at ``sr`` Hz.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .atomic import atomic_path
from .errors import UserError

N_FFT = 512  # 23 ms at 22050 Hz: short gestures keep their attacks
DYNAMIC_RANGE_DB = 80.0
DPI = 100
_RMS_FRAME, _RMS_HOP = 1024, 256


def spectrogram_grid(
    waves_by_label: dict[str, np.ndarray],
    sr: int,
    path: str | os.PathLike,
    title: str = "",
    max_per_row: int = 6,
) -> Path:
    """One row of log-magnitude spectrogram thumbnails per label, on one colour scale.

    Parameters
    ----------
    waves_by_label : label -> clips ``[N, T]`` (or one clip ``[T]``); the first ``max_per_row``
        clips of each label are drawn.
    sr : rate in Hz.
    path : PNG to write.
    title : drawn above the grid.
    max_per_row : thumbnails per row at most.

    Returns
    -------
    The path written.

    Examples
    --------
    >>> t = np.arange(16384) / 22050
    >>> waves = {"sine": np.sin(2 * np.pi * 440 * t), "noise": np.random.randn(2, 16384) * 0.1}
    >>> spectrogram_grid(waves, 22050, "grid.png", title="two labels")  # doctest: +SKIP
    PosixPath('grid.png')
    """
    rows = {label: _as_batch(w)[:max_per_row] for label, w in waves_by_label.items()}
    if not rows:
        raise ValueError("spectrogram_grid needs at least one label")
    n_cols = max(len(clips) for clips in rows.values())
    specs = {label: [_spectrogram_db(w) for w in clips] for label, clips in rows.items()}
    vmax = max(float(s.max()) for row in specs.values() for s in row)
    label_width = min(3.5, 0.6 + 0.075 * max(len(label) for label in rows))

    fig = Figure(figsize=(label_width + 1.9 * n_cols + 0.8, 0.9 + 1.4 * len(rows)), dpi=DPI)
    axes = fig.subplots(len(rows), n_cols, squeeze=False, sharex=True, sharey=True)
    image = None
    for r, (label, row) in enumerate(specs.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(row):
                ax.set_axis_off()
                continue
            image = _show(ax, row[c], sr, len(rows[label][c]), vmax)
            if r == len(rows) - 1:
                ax.set_xlabel("time (s)", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    _finish(fig, image, title, left=label_width / fig.get_figwidth())
    return _save(fig, path)


def morph_strip(
    waves: np.ndarray, sr: int, path: str | os.PathLike, labels: list[str] | None = None
) -> Path:
    """The spectrograms of ``waves [K, T]`` side by side, one strip, one colour scale.

    Parameters
    ----------
    waves : the K steps of a morph (or any sequence of clips); ``[T]`` for a single clip.
    sr : rate in Hz.
    path : PNG to write.
    labels : one title per step, e.g. the interpolation fractions ``["0.00", ..., "1.00"]``.

    Returns
    -------
    The path written.
    """
    waves = _as_batch(waves)
    if labels is not None and len(labels) != len(waves):
        raise ValueError(f"{len(labels)} labels for {len(waves)} clips")
    specs = [_spectrogram_db(w) for w in waves]
    vmax = max(float(s.max()) for s in specs)
    fig = Figure(figsize=(1.0 + 1.7 * len(waves), 2.4), dpi=DPI)
    axes = fig.subplots(1, len(waves), squeeze=False, sharey=True)[0]
    image = None
    for k, (ax, spec) in enumerate(zip(axes, specs, strict=True)):
        image = _show(ax, spec, sr, waves.shape[1], vmax)
        ax.set_xlabel("time (s)", fontsize=8)
        if labels is not None:
            ax.set_title(labels[k], fontsize=9)
    _finish(fig, image, "", left=0.6 / fig.get_figwidth())
    return _save(fig, path)


def training_curves(
    rows: list[dict[str, str]],
    path: str | os.PathLike,
    columns: list[str] | None = None,
    title: str = "training curves",
) -> Path:
    """Each metric against the training step, in its own panel: raw curve plus an EMA line.

    When the rows have a ``stage`` column (progressive growth), each panel marks the step where a
    new stage begins with a dashed line.

    Parameters
    ----------
    rows : logged rows as text cells (``runs.Run.metrics_rows``) with a ``step`` column; other
        columns whose non-empty cells are all numbers are metrics (``d_loss, g_loss, r1, ...``);
        text columns, empty cells and non-finite values (``nan``: not measured) are skipped.
    path : PNG to write.
    columns : metrics to draw, in order; default every numeric column but ``step`` that has a
        value. A requested column with no values yet gets a panel that says so.
    title : drawn above the panels.

    Returns
    -------
    The path written. No rows yet give a picture that says so.

    Raises
    ------
    UserError
        The rows have no ``step`` column, or a requested column is not numeric.
    """
    header = list(rows[0]) if rows else ["step", *(columns or [])]
    if "step" not in header:
        raise UserError(f"metrics have no 'step' column; columns are {', '.join(header)}")
    numeric = [name for name in header if name != "step" and _is_numeric(rows, name)]
    if columns is None:
        columns = [name for name in numeric if len(_series(rows, name)[0])]
    missing = [name for name in columns if name not in numeric]
    if missing:
        raise UserError(
            f"no numeric column {', '.join(missing)}; "
            f"numeric columns are {', '.join(numeric) or 'none'}"
        )

    stage_starts = _stage_starts(rows) if "stage" in header else []
    n_cols = min(3, max(1, len(columns)))
    n_rows = max(1, math.ceil(len(columns) / n_cols))
    fig = Figure(figsize=(3.6 * n_cols, 0.6 + 2.4 * n_rows), dpi=DPI)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(columns) :]:
        ax.set_axis_off()
    if not columns:
        axes[0].text(0.5, 0.5, "no metrics yet", ha="center", va="center", fontsize=12)
    for ax, name in zip(axes, columns, strict=False):
        ax.set_title(name, fontsize=10)
        steps, values = _series(rows, name)
        if not len(steps):
            ax.text(0.5, 0.5, "no values yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=0.8)
        ax.plot(steps, _ema(values), color="tab:blue", linewidth=1.5)
        for step, stage in stage_starts:
            ax.axvline(step, color="gray", linestyle="--", linewidth=0.7)
            ax.text(step, 1.0, f" {stage}", transform=ax.get_xaxis_transform(), fontsize=6,
                    color="gray", va="top")  # fmt: skip
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def envelope_plot(
    waves_by_label: dict[str, np.ndarray],
    sr: int,
    path: str | os.PathLike,
    reference_by_label: dict[str, np.ndarray] | None = None,
) -> Path:
    """Mean ± std RMS energy envelope (dB) over time, one panel per label.

    Parameters
    ----------
    waves_by_label : label -> clips ``[N, T]`` (or ``[T]``), e.g. generated gestures (in colour).
    sr : rate in Hz (both dicts).
    path : PNG to write.
    reference_by_label : the same for reference clips, e.g. the corpus, drawn in grey behind the
        first dict for labels that both have.

    Returns
    -------
    The path written.
    """
    if not waves_by_label:
        raise ValueError("envelope_plot needs at least one label")
    reference_by_label = reference_by_label or {}
    n_cols = min(4, len(waves_by_label))
    n_rows = math.ceil(len(waves_by_label) / n_cols)
    fig = Figure(figsize=(3.4 * n_cols, 0.6 + 2.4 * n_rows), dpi=DPI)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    for ax in axes[len(waves_by_label) :]:
        ax.set_axis_off()
    for ax, (label, waves) in zip(axes, waves_by_label.items(), strict=False):
        if label in reference_by_label:
            _draw_envelope(ax, reference_by_label[label], sr, "0.55", "reference")
        _draw_envelope(ax, waves, sr, "tab:orange", "generated" if reference_by_label else None)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("RMS (dB)", fontsize=9)
    if reference_by_label:
        axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


def confusion_plot(
    matrix: np.ndarray, labels: list[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """A confusion matrix as a picture: rows are true classes, columns predicted ones.

    Cells are coloured by the share of their row (recall on the diagonal) and show the count.

    Parameters
    ----------
    matrix : ``[K, K]`` counts, row = true class, column = predicted class.
    labels : the ``K`` class names, in matrix order.
    path : PNG to write.
    title : drawn above the matrix.

    Returns
    -------
    The path written.
    """
    m = np.asarray(matrix, dtype=np.float64)
    k = len(labels)
    if m.shape != (k, k) or k == 0:
        raise ValueError(f"expected a {k}x{k} matrix for {k} labels, got {m.shape}")
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    side = min(14.0, 2.5 + 0.55 * k)
    fig = Figure(figsize=(side + 1.0, side), dpi=DPI)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if m[i, j]:
                    color = "white" if share[i, j] > 0.5 else "black"
                    ax.text(
                        j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8, color=color
                    )
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("true", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label("share of row", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def metric_over_steps(
    steps: list[int],
    stage_names: list[str],
    series: dict[str, list[float]],
    references: dict[str, float],
    path: str | os.PathLike,
) -> Path:
    """Evaluation figures of the generator saved at several training steps, one panel each.

    Parameters
    ----------
    steps : training step of each saved generator.
    stage_names : the growth stage of each, written beside its point.
    series : metric name -> one value per step.
    references : metric name -> the real-vs-real figure, drawn as a dashed line (what a perfect
        model would score).
    path : PNG to write.
    """
    n_cols = min(4, max(1, len(series)))
    fig = Figure(figsize=(3.2 * n_cols, 2.8), dpi=DPI)
    axes = fig.subplots(1, n_cols, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, series.items(), strict=False):
        ax.plot(steps, values, "o-", color="tab:blue", linewidth=1.4, markersize=4)
        for x, y, stage in zip(steps, values, stage_names, strict=True):
            ax.annotate(
                stage, (x, y), fontsize=6, color="gray", xytext=(2, 3), textcoords="offset points"
            )
        if name in references:
            ax.axhline(
                references[name],
                color="tab:green",
                linestyle="--",
                linewidth=1,
                label="real vs real",
            )
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def study_plot(
    rows: list[dict[str, float | str]],
    x: str,
    y: str,
    path: str | os.PathLike,
    references: dict[str, float] | None = None,
    labels: tuple[str, str] | None = None,
    colour_by: str = "data",
    marker_by: str = "repr",
    y_references: dict[str, float] | None = None,
    y_limits: tuple[float, float] | None = None,
) -> Path:
    """One point per run of a study, ``x`` against ``y`` (e.g. Fréchet distance over real-vs-real
    against the category check), coloured by ``colour_by``, marked by ``marker_by``, the seeds of
    one group joined by a line; runs missing either figure are left out.

    Parameters
    ----------
    rows : one dict per run with the two grouping keys and the two figures.
    x, y : the figures to plot.
    path : PNG to write.
    references : name -> value (e.g. "real vs real" and "1.5x"), drawn as dashed vertical lines on
        the x axis.
    labels : axis titles (default: ``x`` and ``y``).
    y_references : the same as horizontal lines on the y axis (e.g. a goal of 0.85).
    y_limits : the y axis's range (default: the points').
    """
    rows = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    colour_keys = sorted({str(r[colour_by]) for r in rows})
    marker_keys = sorted({str(r[marker_by]) for r in rows})
    colours = {name: f"C{i % 10}" for i, name in enumerate(colour_keys)}
    markers = {name: "osD^v<>"[i % 7] for i, name in enumerate(marker_keys)}
    fig = Figure(figsize=(6.4, 4.2), dpi=DPI)
    ax = fig.subplots()
    for c in colour_keys:
        for m in marker_keys:
            mine = [r for r in rows if str(r[colour_by]) == c and str(r[marker_by]) == m]
            if not mine:
                continue
            xs, ys = [float(r[x]) for r in mine], [float(r[y]) for r in mine]
            ax.plot(xs, ys, color=colours[c], marker=markers[m], linestyle="-", linewidth=0.8,
                    markersize=7, label=f"{c} · {m}")  # fmt: skip
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axvline(value, color="0.4", linestyle=("--", ":")[i % 2], linewidth=1)
        ax.text(value, 1.0, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7,
                color="0.3", va="top", rotation=90)  # fmt: skip
    for i, (name, value) in enumerate((y_references or {}).items()):
        ax.axhline(value, color="0.4", linestyle=("--", ":")[i % 2], linewidth=1)
        ax.text(1.0, value, f"{name} ", transform=ax.get_yaxis_transform(), fontsize=7,
                color="0.3", ha="right", va="bottom")  # fmt: skip
    if y_limits is not None:
        ax.set_ylim(*y_limits)
    x_label, y_label = labels or (x, y)
    ax.set_xlabel(x_label, fontsize=9)
    ax.set_ylabel(y_label, fontsize=9)
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(fontsize=6, loc="best", ncol=2)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------------------- helpers
def _as_batch(waves: np.ndarray) -> np.ndarray:
    """``[T]`` or ``[N, T]`` → ``[N, T]`` float32."""
    waves = np.asarray(waves, dtype=np.float32)
    if waves.ndim == 1:
        waves = waves[None]
    if waves.ndim != 2 or waves.shape[0] == 0 or waves.shape[1] == 0:
        raise ValueError(f"expected clips [N, T] or one clip [T], got shape {waves.shape}")
    return waves


def _spectrogram_db(wave: np.ndarray) -> np.ndarray:
    """Magnitude STFT of ``wave [T]`` in dB re full scale → ``[F, frames]``."""
    n_fft = min(N_FFT, 2 ** int(math.log2(max(len(wave), 16))))
    mag = np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=n_fft // 4))
    # ref = a full-scale sine's peak bin, so levels compare across clips and pictures
    return librosa.amplitude_to_db(mag, ref=n_fft / 4, amin=1e-5, top_db=None)


def _show(ax, spec_db: np.ndarray, sr: int, n_samples: int, vmax: float):
    """Draw one spectrogram with time in seconds and frequency in kHz; returns the image."""
    image = ax.imshow(
        spec_db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=vmax - DYNAMIC_RANGE_DB,
        vmax=vmax,
        extent=(0.0, n_samples / sr, 0.0, sr / 2000.0),
        interpolation="nearest",
    )
    ax.tick_params(labelsize=7)
    ax.yaxis.set_major_formatter(_KHZ)
    return image


_KHZ = FuncFormatter(lambda khz, _: f"{khz:g}k")


def _finish(fig: Figure, image, title: str, left: float) -> None:
    """Shared colour bar on the right, title on top, room for row labels on the left."""
    height = fig.get_figheight()
    bottom, top = 0.5 / height, 1.0 - (0.5 if title else 0.3) / height
    fig.subplots_adjust(left=left, right=0.9, bottom=bottom, top=top, wspace=0.08, hspace=0.15)
    if title:
        fig.suptitle(title, fontsize=11)
    cax = fig.add_axes((0.92, bottom, 0.012, top - bottom))
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("dB", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _stage_starts(rows: list[dict]) -> list[tuple[float, str]]:
    """``(step, stage)`` for every row whose stage differs from the previous row's (not the first)."""
    starts, previous = [], None
    for row in rows:
        stage = row.get("stage") or ""
        if previous is not None and stage != previous and row.get("step"):
            starts.append((float(row["step"]), stage))
        previous = stage
    return starts


def _is_numeric(rows: list[dict[str, str]], name: str) -> bool:
    """True when every non-empty cell of the column is a number (``nan`` included)."""
    cells = [row.get(name) for row in rows if row.get(name) not in (None, "")]
    for cell in cells:
        try:
            float(cell)
        except ValueError:
            return False
    return True


def _series(rows: list[dict[str, str]], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(step, value) pairs where both cells are present and finite."""
    pairs = []
    for row in rows:
        step, value = row.get("step"), row.get(name)
        if step in (None, "") or value in (None, ""):
            continue
        try:
            pair = (float(step), float(value))
        except ValueError:
            continue
        if all(math.isfinite(v) for v in pair):
            pairs.append(pair)
    data = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return data[:, 0], data[:, 1]


def _ema(values: np.ndarray) -> np.ndarray:
    """Debiased exponential moving average with a time constant of 1/50 of the curve's points."""
    smoothing = 1.0 - 1.0 / max(1.0, len(values) / 50.0)
    acc = scipy.signal.lfilter([1.0 - smoothing], [1.0, -smoothing], values)
    return acc / (1.0 - smoothing ** np.arange(1, len(values) + 1))


def _draw_envelope(ax, waves: np.ndarray, sr: int, color: str, label: str | None) -> None:
    waves = _as_batch(waves)
    frame = min(_RMS_FRAME, waves.shape[1])
    rms = librosa.feature.rms(y=waves, frame_length=frame, hop_length=_RMS_HOP)[:, 0]  # [N, frames]
    env_db = librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5, top_db=None)
    mean, std = env_db.mean(axis=0), env_db.std(axis=0)
    t_s = librosa.frames_to_time(np.arange(env_db.shape[1]), sr=sr, hop_length=_RMS_HOP)
    ax.fill_between(t_s, mean - std, mean + std, color=color, alpha=0.25, linewidth=0)
    ax.plot(t_s, mean, color=color, linewidth=1.4, label=label)


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return Path(path)
