"""The run folder: the one module that knows where a training run keeps what.

RUN/
    config.yaml                     the TrainConfig the run was made with
    checkpoints/latest.pt           the last checkpoint (resume from it)
    checkpoints/best.pt             the best live quality of the current stage so far
    checkpoints/stage-<h>x<w>.pt    the checkpoint taken when growth stage <h>x<w> ended
    generator.safetensors           the export bundle, one file: the inference generator (EMA G,
                                    tensors ``generator.*``), D of the same step (``discriminator.*``,
                                    judges ``generate --candidates``) and, in its metadata, how to
                                    rebuild G (``meta``: model, representation, classes, step)
    logs/metrics.csv                one row per logged step
    logs/events.out.tfevents.*      the same figures for TensorBoard
    logs/warnings.log               plain-word warnings of the live probe
    logs/distributed.json           replica check of a data-parallel run
    logs/heartbeat.json             present while training runs (pid, host, step)
    samples/grid-<step>-<stage>.png a snapshot grid of fixed latents
    samples/<stage>/step-<step>-<class>.wav  one clip per class at that snapshot
    progress.gif                    the grids in order
    eval/                           what ``gesturegan evaluate`` writes

Runs of the previous layout (``generator.safetensors`` of G alone, ``generator.json`` and
``discriminator.safetensors`` stamped with the step) are still read; their next export replaces
the three with the bundle.

A checkpoint is a plain dict (``training.state``) written by ``torch.save``; it is read with
``weights_only`` (tensors and plain values, no code), so reading one runs nothing from the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_path, clean_temps, process_alive, write_text
from .config import save_yaml
from .errors import UserError

CHECKPOINT_FORMAT = 1
LATEST = "latest"
BEST = "best"
LIVE_WITHIN_S = 60.0  # a heartbeat older than this is a run that stopped without saying so
BEAT_EVERY_S = 5.0  # the training loop's heartbeat is written at most this often

_CONFIG = "config.yaml"
_CHECKPOINTS = "checkpoints"
_GENERATOR = "generator.safetensors"
_GENERATOR_META = "generator.json"  # the previous layout (read, never written)
_DISCRIMINATOR = "discriminator.safetensors"  # the previous layout (read, never written)
_EXPORT_FORMAT = "gesturegan-export"
_EXPORT_VERSION = "2"
_G_PREFIX = "generator."  # tensor names in the export bundle: G's state dict ...
_D_PREFIX = "discriminator."  # ... and D's, of the same step
_LOGS = "logs"
_METRICS = "metrics.csv"
_HEARTBEAT = "heartbeat.json"
_SAMPLES = "samples"
_GIF = "progress.gif"
_EVAL = "eval"


def save_checkpoint(ckpt: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (a reader never sees half a file)."""
    with atomic_path(path) as tmp:
        torch.save({"format_version": CHECKPOINT_FORMAT, **ckpt}, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, mmap: bool = False) -> dict[str, Any]:
    """Read a checkpoint; a missing or damaged file is a ``UserError`` naming it. With ``mmap``
    the tensors stay in the file until touched (to read a part of a large checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:
        raise UserError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a gesturegan checkpoint of format {CHECKPOINT_FORMAT}")
    return ckpt


@dataclass(frozen=True)
class Snapshot:
    """The latest snapshot of one growth stage: its grid picture and one clip per class."""

    stage: str
    step: int
    grid: Path
    audio: tuple[Path, ...]


class Run:
    """A training run folder at ``path``. ``Run(path)`` for one being made, ``Run.open(path)``
    for one that must already be a run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._last_beat = -float("inf")

    @staticmethod
    def is_run(path: str | os.PathLike) -> bool:
        """True when ``path`` holds a run: a config and a generator or checkpoints."""
        path = Path(path)
        return (path / _CONFIG).is_file() and (
            (path / _GENERATOR).is_file() or (path / _CHECKPOINTS).is_dir()
        )

    @classmethod
    def open(cls, path: str | os.PathLike) -> Run:
        """The run at ``path``; a ``UserError`` when the folder is not one."""
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"{path}: no such run folder")
        if not cls.is_run(path):
            raise UserError(
                f"{path}: not a training run (no {_CONFIG} with checkpoints or a generator); "
                "make one with `gesturegan train --out FOLDER`"
            )
        return cls(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def clean_temps(self) -> list[Path]:
        """Remove the temporary files a killed writer left anywhere in the run (``atomic``)."""
        return clean_temps(self.path)

    # ------------------------------------------------------------------ config
    def read_config(self) -> dict[str, Any]:
        """The saved training options as a plain dict (``{}`` when unreadable)."""
        try:
            return yaml.safe_load((self.path / _CONFIG).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            return {}

    @property
    def config_path(self) -> Path:
        return self.path / _CONFIG

    def write_config(self, cfg: Any) -> None:
        """Save the run's config dataclass as YAML."""
        self.path.mkdir(parents=True, exist_ok=True)
        save_yaml(cfg, self.path / _CONFIG)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, which: str = LATEST) -> Path:
        """``which``: ``LATEST``, ``BEST`` or a growth stage's name (``"16x16"``)."""
        name = f"{which}.pt" if which in (LATEST, BEST) else f"stage-{which}.pt"
        return self.path / _CHECKPOINTS / name

    def has_checkpoint(self, which: str = LATEST) -> bool:
        return self.checkpoint_path(which).is_file()

    def save_checkpoint(self, ckpt: dict[str, Any], which: str = LATEST) -> None:
        save_checkpoint(ckpt, self.checkpoint_path(which))

    def load_checkpoint(self, which: str = LATEST) -> dict[str, Any]:
        return load_checkpoint(self.checkpoint_path(which))

    def checkpoints(self) -> list[str]:
        """The checkpoints the run holds, by name (``LATEST``, ``BEST``, stage names)."""
        names = []
        for p in sorted((self.path / _CHECKPOINTS).glob("*.pt")):
            if p.stem in (LATEST, BEST):
                names.append(p.stem)
            elif p.stem.startswith("stage-"):
                names.append(p.stem[len("stage-") :])
        return names

    def resume_point(self) -> str | None:
        """The checkpoint to resume from: ``LATEST``, else whichever of ``BEST`` and the stage
        checkpoints is furthest on (each holds the whole training state); ``None`` without any."""
        names = self.checkpoints()
        if LATEST in names or not names:
            return LATEST if names else None

        def step(which: str) -> int:
            try:
                return int(load_checkpoint(self.checkpoint_path(which), mmap=True)["state"]["step"])
            except (UserError, KeyError, TypeError, ValueError):
                return -1  # damaged: the last choice

        return max(names, key=step)

    def stage_generator(self, stage: str) -> tuple[dict[str, torch.Tensor], int]:
        """The EMA generator kept when growth stage ``stage`` ended, and the step it ended at
        (only those parts of the checkpoint are read)."""
        ckpt = load_checkpoint(self.checkpoint_path(stage), mmap=True)
        return ckpt["G_ema"], int(ckpt["state"]["step"])

    def drawable_stages(self, meta: dict[str, Any]) -> tuple[str, ...]:
        """The stages a generator of this run can draw from, given its ``generator.json`` meta:
        those whose stage checkpoint exists, plus the last one trained."""
        stages = list(meta.get("stages", ()))
        final = stages[int(meta["stage"])] if stages and "stage" in meta else None
        return tuple(s for s in stages if s == final or self.has_checkpoint(s))

    # ------------------------------------------------------------------ the export bundle
    def has_generator(self) -> bool:
        weights = self.path / _GENERATOR
        if not weights.is_file():
            return False
        return (self.path / _GENERATOR_META).is_file() or self._bundle_meta() is not None

    def generator_stamp(self) -> int | None:
        """When the generator was last exported (ns), ``None`` when it has not been."""
        weights = self.path / _GENERATOR
        return weights.stat().st_mtime_ns if weights.is_file() else None

    def write_export(
        self,
        generator: dict[str, torch.Tensor],
        meta: dict[str, Any],
        discriminator: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Write the inference generator (weights + ``meta``: how to rebuild it, with its
        ``step``) and with ``discriminator`` D of the same step, as one file made visible by one
        rename: a kill at any instant leaves the previous export or this one."""
        tensors = {f"{_G_PREFIX}{k}": v for k, v in generator.items()}
        tensors.update({f"{_D_PREFIX}{k}": v for k, v in (discriminator or {}).items()})
        stamp = {"format": _EXPORT_FORMAT, "version": _EXPORT_VERSION, "meta": json.dumps(meta)}
        _save_weights(tensors, self.path / _GENERATOR, stamp)
        # The previous layout's files describe an older export; the bundle now speaks alone.
        for name in (_GENERATOR_META, _DISCRIMINATOR):
            (self.path / name).unlink(missing_ok=True)

    def _bundle_meta(self) -> dict[str, Any] | None:
        """The meta of a one-file export; ``None`` for the previous layout (weights only)."""
        return self._read_bundle(None)[0]

    def _read_bundle(
        self, prefix: str | None
    ) -> tuple[dict[str, Any] | None, dict[str, torch.Tensor]]:
        """The bundle's meta and its tensors under ``prefix`` (none for ``None``), read through
        one open file so both are of one export; ``(None, {})`` for the previous layout."""
        path = self.path / _GENERATOR
        try:
            with safe_open(str(path), "pt") as f:
                stamp = f.metadata() or {}
                if stamp.get("format") != _EXPORT_FORMAT:
                    return None, {}
                names = [k for k in f.keys() if prefix is not None and k.startswith(prefix)]
                tensors = {k[len(prefix or "") :]: f.get_tensor(k) for k in names}
        except Exception as exc:
            raise UserError(f"{path}: damaged generator file ({exc})") from exc
        try:
            meta = json.loads(stamp["meta"])
            int(meta["step"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path}: export without a step ({exc})") from exc
        return meta, tensors

    def generator_meta(self) -> dict[str, Any]:
        """How to rebuild the exported generator (``generator.json`` in runs of the previous
        layout); ``{}`` when there is none or it cannot be read."""
        try:
            meta = self._bundle_meta() if (self.path / _GENERATOR).is_file() else None
            if meta is not None:
                return meta
            return json.loads((self.path / _GENERATOR_META).read_text(encoding="utf-8"))
        except (OSError, ValueError, UserError):
            return {}

    def read_generator(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The exported inference generator: (state dict, meta)."""
        weights = self.path / _GENERATOR
        if not self.has_generator():
            raise UserError(
                f"{self.path}: no trained generator ({_GENERATOR}); "
                "train with `gesturegan train`"
            )
        try:
            meta, tensors = self._read_bundle(_G_PREFIX)
            if meta is not None:
                return tensors, meta
            meta = json.loads((self.path / _GENERATOR_META).read_text(encoding="utf-8"))
            return load_file(str(weights)), meta
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{weights}: damaged generator file ({exc})") from exc

    def read_discriminator(self, step: int) -> dict[str, torch.Tensor]:
        """D saved with the generator of training step ``step``; a ``UserError`` when there is
        none or it is from another step (a run exported before discriminators were saved, or an
        export that replaced the one the generator was read from)."""
        meta, weights = (
            self._read_bundle(_D_PREFIX) if (self.path / _GENERATOR).is_file() else (None, {})
        )
        if meta is not None:
            if int(meta["step"]) != step:
                raise UserError(
                    f"{self.path / _GENERATOR}: exported again at step {meta['step']} since its "
                    f"generator of step {step} was read; load the run again"
                )
            if not weights:
                raise UserError(f"{self.path / _GENERATOR}: no discriminator saved with it")
            return weights
        path = self.path / _DISCRIMINATOR
        if not path.is_file():
            raise UserError(
                f"{self.path}: no discriminator saved with the generator (trained before they "
                "were); `gesturegan train --out RUN --resume` writes one at its next export"
            )
        try:
            with safe_open(str(path), "pt") as f:
                saved = (f.metadata() or {}).get("step")
                weights = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise UserError(f"{path}: damaged discriminator file ({exc})") from exc
        if saved != str(step):
            raise UserError(f"{path}: saved at step {saved}, but the generator is from step {step}")
        return weights

    def export_path(self, suffix: str) -> Path:
        """Where ``gesturegan export`` writes the generator in another format (``".onnx"``)."""
        return self.path / f"generator{suffix}"

    # ------------------------------------------------------------------ logs and metrics
    @property
    def logs_dir(self) -> Path:
        """Where TensorBoard writes its events."""
        return self.path / _LOGS

    def write_metrics(self, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
        """Write every logged row (keys outside ``columns`` are left out)."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        write_text(self.path / _LOGS / _METRICS, buf.getvalue())

    def metrics_rows(self, up_to_step: int | None = None) -> list[dict[str, str]]:
        """The logged rows as written (text cells), up to ``up_to_step`` when given; ``[]``
        before the first row."""
        path = self.path / _LOGS / _METRICS
        if not path.is_file():
            return []
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if up_to_step is None:
            return rows
        return [r for r in rows if int(r["step"]) <= up_to_step]

    def metrics(self, since_step: int = -1) -> list[dict[str, Any]]:
        """Rows after ``since_step`` with numbers parsed (``nan`` as ``None``) and text kept."""
        out = []
        for row in self.metrics_rows():
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                try:
                    number = float(value)
                    parsed[key] = None if number != number else number
                except (TypeError, ValueError):
                    parsed[key] = value
            if (parsed.get("step") or 0) > since_step:
                out.append(parsed)
        return out

    def write_warnings(self, messages: list[str]) -> None:
        write_text(self.path / _LOGS / "warnings.log", "".join(f"{m}\n" for m in messages))

    def write_distributed(self, facts: dict[str, Any]) -> None:
        write_text(self.path / _LOGS / "distributed.json", json.dumps(facts) + "\n")

    def read_distributed(self) -> dict[str, Any]:
        return json.loads((self.path / _LOGS / "distributed.json").read_text(encoding="utf-8"))

    # ------------------------------------------------------------------ liveness
    def beat(self, step: int) -> None:
        """Say that training is running (at most every ``BEAT_EVERY_S``)."""
        now = time.monotonic()
        if now - self._last_beat < BEAT_EVERY_S:
            return
        self._last_beat = now
        facts = {"pid": os.getpid(), "host": socket.gethostname(), "step": step}
        write_text(self.path / _LOGS / _HEARTBEAT, json.dumps(facts) + "\n")

    def stop_beating(self) -> None:
        """Training ended (or stopped): the run is no longer live."""
        (self.path / _LOGS / _HEARTBEAT).unlink(missing_ok=True)
        self._last_beat = -float("inf")

    def live(self) -> bool:
        """True while training runs: a fresh heartbeat whose process (on this host) still is."""
        path = self.path / _LOGS / _HEARTBEAT
        try:
            age = time.time() - path.stat().st_mtime
            facts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if age > LIVE_WITHIN_S:
            return False
        if facts.get("host") == socket.gethostname():
            return process_alive(int(facts.get("pid", -1)))
        return True

    def updated_s(self) -> float:
        """Seconds since training last said something: heartbeat, metrics or config."""
        for path in (
            self.path / _LOGS / _HEARTBEAT,
            self.path / _LOGS / _METRICS,
            self.path / _CONFIG,
        ):
            if path.is_file():
                return max(0.0, time.time() - path.stat().st_mtime)
        return float("inf")

    # ------------------------------------------------------------------ samples
    def grid_path(self, step: int, stage: str) -> Path:
        return self.path / _SAMPLES / f"grid-{step:07d}-{stage}.png"

    def sample_audio_path(self, step: int, stage: str, name: str) -> Path:
        return self.path / _SAMPLES / stage / f"step-{step:07d}-{name}.wav"

    def grids(self) -> list[Path]:
        """Every snapshot grid, oldest first."""
        return sorted((self.path / _SAMPLES).glob("grid-*.png"))

    def snapshots(self) -> list[Snapshot]:
        """The latest snapshot of every stage that has one, in growth order."""
        latest: dict[str, Path] = {}
        for grid in self.grids():  # step-major order: the last grid of a stage wins
            latest[grid.stem.split("-", 2)[2]] = grid
        out = []
        for stage, grid in latest.items():
            wavs = sorted((self.path / _SAMPLES / stage).glob("step-*.wav"))
            last = wavs[-1].name.split("-")[1] if wavs else None
            audio = tuple(w for w in wavs if w.name.split("-")[1] == last)
            out.append(Snapshot(stage, int(grid.stem.split("-")[1]), grid, audio))
        return out

    @property
    def gif_path(self) -> Path:
        return self.path / _GIF

    # ------------------------------------------------------------------ evaluation
    @property
    def eval_dir(self) -> Path:
        """Where ``gesturegan evaluate`` keeps its classifier and report."""
        return self.path / _EVAL


def _save_weights(state_dict: dict[str, torch.Tensor], path: Path, stamp: dict[str, str]) -> None:
    """Write ``state_dict`` as safetensors atomically, with ``stamp`` as the file's metadata."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=stamp)
