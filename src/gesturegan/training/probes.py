"""The live probe of a running training: how good the EMA generator is now, whether it is the best
of its stage, and what to warn about.

The probe renders fixed latents (the same every time) and compares them with a fixed set of real
clips; what it measures with — the embedding, the distance, the labeler that hears, the collapse
test and the warnings — it receives as ``Judges`` (``monitor`` holds today's choices).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..dataset import Dataset
from ..representations import Representation
from .data import fixed_latents
from .monitor import HEAR_PER_CLASS, PROBE_PER_CLASS, REAL_PER_CLASS, REAL_PROBES, ProbeResult
from .snapshots import pictures
from .state import Counters


@dataclass(frozen=True)
class Judges:
    """What a probe measures with.

    embed : pictures ``[N, C, H, W]`` → embeddings ``[N, D]``.
    compare : ``(real_emb, real_ids, fake_emb, fake_ids)`` → ``ProbeResult``.
    hear : ``(waves [N, T], sr, label_ids [N], label_names)`` → share heard as asked, by class;
        ``None`` when the classes cannot be heard (not gesture categories).
    collapsed : whether a result is mode collapse (never picked as the best).
    warnings : ``(result, ada_rt, augment mode)`` → sentences with what to try.
    """

    embed: Callable[[torch.Tensor], np.ndarray]
    compare: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ProbeResult]
    hear: Callable[[np.ndarray, int, np.ndarray, list[str]], dict[str, float]] | None
    collapsed: Callable[[ProbeResult], bool]
    warnings: Callable[[ProbeResult | None, float, str], list[str]]


class Probes:
    """Fixed probe and hearing latents of a run, its real comparison set, the latest readings."""

    def __init__(
        self,
        judges: Judges,
        dataset: Dataset,
        rep: Representation,
        label_names: list[str],
        z_dim: int,
        seed: int,
    ):
        self.judges, self.dataset, self.rep = judges, dataset, rep
        self.label_names, self.seed = label_names, seed
        n = len(label_names)
        self.probe_z, self.probe_labels, self.probe_c = fixed_latents(
            seed + 4, PROBE_PER_CLASS, n, z_dim
        )
        self.hear_z, self.hear_labels, self.hear_c = fixed_latents(
            seed + 5, HEAR_PER_CLASS, n, z_dim
        )
        self._real: tuple[np.ndarray, np.ndarray] | None = None  # (embeddings, label ids)
        self.last: ProbeResult | None = None
        self.last_heard: dict[str, float] = {}
        self.warned: list[str] = []

    @property
    def hears(self) -> bool:
        return self.judges.hear is not None

    def heard_columns(self) -> tuple[str, ...]:
        """The per-class labeler agreement figures (``heard_<class>``), when it hears."""
        return tuple(f"heard_{name}" for name in self.label_names) if self.hears else ()

    def stats(self) -> dict[str, float]:
        """The latest readings as logged figures (NaN before the first probe)."""
        last = self.last
        return {
            "probe_fd": last.probe_fd if last else math.nan,
            "diversity": last.diversity if last else math.nan,
            "heard": min(self.last_heard.values(), default=math.nan),
            **{f"heard_{k}": v for k, v in self.last_heard.items()},
        }

    @torch.no_grad()
    def measure(self, G_ema: torch.nn.Module, stage: int, alpha: float, hear: bool) -> None:
        """Probe ``G_ema`` at ``stage`` and fade-in ``alpha``; with ``hear`` (the last stage)
        also ask the labeler."""
        embed = self.judges.embed
        if self._real is None:
            images, labels = self._real_probe()
            self._real = embed(self._pictures(images)), labels
        fake = G_ema.render(*_on(G_ema, self.probe_z, self.probe_c), stage, alpha)
        fake_emb = embed(self._pictures(fake))
        self.last = self.judges.compare(*self._real, fake_emb, self.probe_labels.numpy())
        self.last_heard = self._hear(G_ema, stage, alpha) if hear and self.hears else {}

    def is_best(self, c: Counters, pick: str) -> bool:
        """Whether the latest probe beats the stage's best so far: the lower FD. Once heard (the
        last stage of a gesture model) only faded-in, uncollapsed probes count, and with ``pick``
        ``"heard"`` the worst class heard decides before FD."""
        result = self.last
        if self.last_heard:
            if not c.faded_in or self.judges.collapsed(result):
                return False
            if pick == "heard":
                worst = min(self.last_heard.values())
                return (worst, -result.probe_fd) > (c.best_heard, -c.best_probe_fd)
        return result.probe_fd < c.best_probe_fd

    def keep_as_best(self, c: Counters) -> None:
        c.best_probe_fd = self.last.probe_fd
        c.best_heard = min(self.last_heard.values(), default=-1.0)
        c.best_elapsed_s = c.elapsed_s

    def new_warnings(self, ada_rt: float, augment: str) -> list[str]:
        """Warnings about the latest probe not given before (they are remembered)."""
        messages = self.judges.warnings(self.last, ada_rt, augment)
        new = [m for m in messages if m not in self.warned]
        self.warned.extend(new)
        return new

    def _hear(self, G_ema: torch.nn.Module, stage: int, alpha: float) -> dict[str, float]:
        """The labeler's agreement with the classes of the fixed hearing set, by class name."""
        waves = torch.cat(
            [
                self.rep.decode(G_ema.render(*_on(G_ema, z, c), stage, alpha))
                for z, c in zip(
                    self.hear_z.split(PROBE_PER_CLASS),
                    self.hear_c.split(PROBE_PER_CLASS),
                    strict=True,
                )
            ]
        )
        return self.judges.hear(
            waves.clamp(-1, 1).cpu().numpy(),
            self.dataset.sr,
            self.hear_labels.numpy(),
            self.label_names,
        )

    def _real_probe(self) -> tuple[torch.Tensor, np.ndarray]:
        """A fixed set of real clips in the representation, full size, and their label ids:
        ``([N, *shape], [N])``; up to ``REAL_PER_CLASS`` of each class (labelled data) or
        ``REAL_PROBES`` in all; training clips only (``prepare --holdout`` keeps the rest for
        judging)."""
        order = np.random.default_rng(self.seed + 3).permutation(self.dataset.train_ids)
        if self.label_names:
            ids = self.dataset.label_ids[order]
            order = np.concatenate(
                [order[ids == k][:REAL_PER_CLASS] for k in range(len(self.label_names))]
            )
        else:
            order = order[:REAL_PROBES]
        waves, labels = self.dataset.batch(np.sort(order))
        return self.rep.encode(torch.from_numpy(np.ascontiguousarray(waves))), labels

    def _pictures(self, out: torch.Tensor) -> torch.Tensor:
        return pictures(out, self.rep, self.dataset.sr, self.dataset.length)


def _on(
    net: torch.nn.Module, z: torch.Tensor, c: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed latents and conditioning on ``net``'s device (they are kept on the CPU)."""
    device = next(net.parameters()).device
    return z.to(device), (c.to(device) if c is not None else None)
