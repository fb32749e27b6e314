"""What the studio knows about its folders: runs and datasets found by name, models kept loaded,
and an LRU cache of generated clips so that moving the morph slider back and forth is instant.

Runs and datasets are looked up by name in a fresh scan, never by a path taken from a request. A
folder linked from outside its root is not part of the scan, so every route refuses it alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from ..errors import UserError
from ..generation import MORPH_MODES, Generator
from ..generation import load as load_generator
from ..runs import Run

MORPH_POSITIONS = 33  # slider stops from the first category (0) to the second (32)


@dataclass(frozen=True)
class RunInfo:
    """A training run folder: ``name`` (its path under the runs root) and what its files say."""

    name: str
    path: Path
    has_generator: bool
    model: str
    repr: str
    categories: tuple[str, ...]
    stages: tuple[str, ...]
    step: int
    stage: str
    updated_s: float  # seconds since training last wrote (heartbeat, metrics or config)
    live: bool  # training is running now (``Run.live``)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "has_generator": self.has_generator,
            "model": self.model,
            "repr": self.repr,
            "categories": list(self.categories),
            "stages": list(self.stages),
            "step": self.step,
            "stage": self.stage,
            "updated_s": round(self.updated_s, 1),
            "live": self.live,
        }


class LRU:
    """A thread-safe least-recently-used cache of ``maxsize`` entries."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_make(self, key, make: Callable[[], object]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()  # outside the lock: two misses of one key may both compute; both are equal
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value


class Engine:
    """Runs, datasets and models under the configured folders.

    Parameters
    ----------
    runs_root : folder of training runs (a run itself, or a folder whose subfolders are runs).
    data_root : folder of datasets (a dataset itself, or a folder whose subfolders are datasets).
    cache_clips : generated clips kept in memory (64 KiB each at the default length).
    """

    def __init__(self, runs_root: Path, data_root: Path, cache_clips: int = 512):
        self.runs_root, self.data_root = runs_root, data_root
        self.clips = LRU(cache_clips)
        self.thumbs = LRU(2048)
        self._models: dict[Path, tuple[int, Generator]] = {}
        self._datasets: dict[Path, tuple[float, Dataset]] = {}
        self._model_lock = threading.Lock()
        # Two CPU cores: one forward pass at a time keeps every request's latency predictable.
        self._render_lock = threading.Lock()

    # ------------------------------------------------------------------ discovery
    def runs(self) -> dict[str, RunInfo]:
        """Every run under the runs root, by name (sorted)."""
        found = {}
        for name, path in _children(self.runs_root, Run.is_run):
            found[name] = _run_info(name, Run(path))
        return found

    def run(self, name: str) -> RunInfo:
        runs = self.runs()
        if name not in runs:
            known = ", ".join(runs) or "none yet"
            raise UserError(f"no run named {name!r} in the runs folder; runs: {known}")
        return runs[name]

    def datasets(self) -> dict[str, Path]:
        """Every dataset folder under the data root, by name (sorted)."""
        return dict(_children(self.data_root, lambda p: (p / "dataset.json").is_file()))

    def dataset(self, name: str) -> Dataset:
        sets = self.datasets()
        if name not in sets:
            known = ", ".join(sets) or "none yet"
            raise UserError(f"no dataset named {name!r} in the data folder; datasets: {known}")
        path = sets[name]
        stamp = (path / "manifest.csv").stat().st_mtime
        with self._model_lock:
            cached = self._datasets.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, Dataset.open(path))
                self._datasets[path] = cached
        return cached[1]

    # ------------------------------------------------------------------ models
    def generator(self, run_dir: Path) -> Generator:
        """The run's generator, loaded once and reloaded when training exports a new one."""
        stamp = Run(run_dir).generator_stamp()
        if stamp is None:
            raise UserError(f"{run_dir.name} has no generator yet (training has not exported one)")
        with self._model_lock:
            cached = self._models.get(run_dir)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_generator(run_dir))
                self._models[run_dir] = cached
        return cached[1]

    def sample(self, run: str, category: str | None, seed: int, stage: str | None) -> np.ndarray:
        """One generated clip ``[T]`` (cached)."""
        info = self.run(run)
        gen = self.generator(info.path)

        def make():
            with self._render_lock:
                return gen.sample(category, seed, stage)

        return self.clips.get_or_make(("sample", info.path, id(gen), category, seed, stage), make)

    def morph_clip(
        self, run: str, start: str, end: str, position: int, seed: int, stage: str | None,
        mode: str = "class",
    ) -> np.ndarray:  # fmt: skip
        """The clip ``[T]`` at slider ``position`` (0 … ``MORPH_POSITIONS - 1``) of a morph.

        Only that one clip is rendered, so a slider move costs one forward pass (then it is cached).
        """
        if not 0 <= position < MORPH_POSITIONS:
            raise UserError(f"position must be 0 to {MORPH_POSITIONS - 1}, got {position}")
        if mode not in MORPH_MODES:
            raise UserError(f"mode must be one of {', '.join(MORPH_MODES)}, got {mode!r}")
        info = self.run(run)
        gen = self.generator(info.path)

        def make():
            z, c = gen.morph_inputs(start, end, MORPH_POSITIONS, seed, mode)
            zc = None if c is None else c[position : position + 1]
            with self._render_lock:
                return gen.decode(gen.render(z[position : position + 1], zc, stage))[0]

        key = ("morph", info.path, id(gen), start, end, position, seed, stage, mode)
        return self.clips.get_or_make(key, make)

    def warm(self) -> None:
        """Load every run's generator now (in a background thread), so the first click is fast."""

        def load_all():
            for info in self.runs().values():
                if info.has_generator:
                    try:
                        self.generator(info.path)
                    except UserError:
                        pass  # a broken run is reported when someone asks for it

        threading.Thread(target=load_all, name="studio-warm", daemon=True).start()

    def render_lock(self) -> threading.Lock:
        """Held around every forward pass (compose and survey building take it too)."""
        return self._render_lock


def _children(root: Path, accept: Callable[[Path], bool]) -> list[tuple[str, Path]]:
    """``root`` itself when accepted (named by its folder name), else its accepted subfolders,
    leaving out those that resolve outside ``root`` (linked from elsewhere)."""
    if not root.is_dir():
        return []
    if accept(root):
        return [(root.resolve().name, root)]
    base = root.resolve()
    return sorted(
        (p.name, p)
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.resolve().is_relative_to(base)
        and accept(p)
    )


def _run_info(name: str, run: Run) -> RunInfo:
    meta, cfg = run.generator_meta(), run.read_config()
    rows = run.metrics_rows()
    last = rows[-1] if rows else {}
    return RunInfo(
        name=name,
        path=run.path,
        has_generator=run.has_generator(),
        model=str(meta.get("model", cfg.get("model", "?"))),
        repr=str(meta.get("repr", cfg.get("repr", "?"))),
        categories=tuple(meta.get("label_names", ())),
        stages=run.drawable_stages(meta),
        step=int(float(last.get("step") or 0)),
        stage=last.get("stage", ""),
        updated_s=run.updated_s(),
        live=run.live(),
    )
