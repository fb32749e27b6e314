"""Kinds of gesture within a class: the labeler's rule that decides each clip (``gestures.rule``).

A class can hold sounds of very different shapes: ``continuous_repetition`` is both loops of pulses
and held drones, with nothing in between. A generator that draws both from one connected latent
space must pass between them, and the clips it makes there are neither (uneven pulses, a wobbling
drone). With kinds, the generator's class input is routed to one kind of that class, chosen by the
latent (``models.pgan.KindSelect``), and the discriminator judges each kind on its own: the latent
space of a class falls into separate regions, one per kind, in the proportions of the data.

A kind is a (class, rule) pair with at least ``MIN_SHARE`` of its class's clips and at least
``MIN_CLIPS`` of them; the clips of smaller ones join their class's largest kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from .. import gestures
from ..dataset import Dataset
from .data import one_hot

MIN_SHARE = 0.1
"""A rule needs at least this share of a class's clips to be a kind of its own."""

MIN_CLIPS = 8
"""... and at least this many clips (fewer cannot teach the discriminator what the kind is)."""


@dataclass(frozen=True)
class Kinds:
    """The kinds of a labelled dataset.

    Attributes
    ----------
    table : one dict per kind, ``{"class": class id, "rule": rule name, "share": share of its
        class's clips}``, in class order then largest first. Saved in checkpoints and the
        export's meta.
    of_clip : ``[N] int64``, the kind id (row of ``table``) of every clip.
    """

    table: list[dict]
    of_clip: np.ndarray


def find(dataset: Dataset, table: list[dict] | None = None) -> Kinds:
    """The kinds of ``dataset`` and the kind of each clip.

    With ``table`` (a resumed run's), clips are assigned to its kinds, a clip whose rule is not
    among its class's kinds joining the class's first (largest) kind; without, the table is found
    from the training clips' rules as the module says (``prepare --holdout``'s clips get a kind
    but never shape the table).
    """
    rules = [
        gestures.rule(gestures.features(dataset.waves[i].astype(np.float64), dataset.sr))
        for i in range(len(dataset))
    ]
    labels = dataset.label_ids
    if table is None:
        train = dataset.train_ids
        table = _table([rules[i] for i in train], labels[train], len(dataset.label_names))
    index = {(k["class"], k["rule"]): i for i, k in enumerate(table)}
    first = {}
    for i, k in enumerate(table):
        first.setdefault(k["class"], i)
    of_clip = np.array(
        [index.get((int(c), r), first.get(int(c), -1)) for c, r in zip(labels, rules, strict=True)],
        dtype=np.int64,
    )
    return Kinds(table, of_clip)


class Conditioning:
    """What G and D are told about each clip: its class, or with ``kinds`` its kind of gesture.

    The data loader's conditioning is one-hot ``[B, n_cond]`` over ``loader_ids`` (kinds when
    given, else the classes); G is always asked for a class, and D judges generated clips by
    the kind G picked for them."""

    def __init__(self, kinds: Kinds | None, n_classes: int):
        self.kinds = kinds
        if kinds is not None:  # [n_kinds, n_classes]: row i one-hot at kind i's class
            ids = torch.tensor([k["class"] for k in kinds.table])
            self._kind_class = one_hot(ids, n_classes)

    @property
    def table(self) -> list[dict] | None:
        """The kinds table (saved in checkpoints and the export's meta), ``None`` without kinds."""
        return self.kinds.table if self.kinds is not None else None

    def loader_ids(self) -> dict:
        """``BatchLoader`` options that make it condition on kinds (empty without)."""
        if self.kinds is None:
            return {}
        return {"cond_ids": self.kinds.of_clip, "n_cond": len(self.kinds.table)}

    def classes(self, cond: torch.Tensor | None) -> torch.Tensor | None:
        """The class conditioning ``[B, n_classes]`` of clips conditioned ``cond``."""
        if self.kinds is None or cond is None:
            return cond
        return cond @ self._kind_class.to(cond.device)

    def of_fakes(
        self, G: torch.nn.Module, z: torch.Tensor, c: torch.Tensor | None
    ) -> torch.Tensor | None:
        """What D is told about clips generated from ``(z, c)``: the class, or the kind G picked."""
        return G.select(z, c) if self.kinds is not None else c


def _table(rules: list[str], labels: np.ndarray, n_classes: int) -> list[dict]:
    table = []
    for c in range(n_classes):
        counts = Counter(r for r, lab in zip(rules, labels, strict=True) if lab == c)
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # largest first
        big = [(r, n) for r, n in ranked if n >= MIN_CLIPS and n >= MIN_SHARE * total]
        kept = big or ranked[:1]
        merged = total - sum(n for _, n in kept)  # the small rules' clips join the largest kind
        shares = [(n + (merged if j == 0 else 0)) / total for j, (_, n) in enumerate(kept)]
        table += [
            {"class": c, "rule": r, "share": round(s, 6)}
            for (r, _), s in zip(kept, shares, strict=True)
        ]
    return table
