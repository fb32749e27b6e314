"""A random forest on the labeler's envelope features: the classifier's ``model: features``.

The gesture categories are defined by a clip's energy envelope, and the labeler's features
(``gestures.features``: attack, decay, onsets, periodicity, steadiness, ...) measure it with no
learnt weights, so they do not change from one library's recording chain to another's. A random
forest learns the categories (or any label set) from those numbers. Held out by library, it
placed clips of libraries it never saw better than the CNN on log-mel images (docs/gestures.md,
"The classifier on envelope features").

Training uses scikit-learn's ``RandomForestClassifier``; the trained trees are kept as plain
arrays (``Forest``: saved in safetensors, read by ``Forest.probabilities``, our own traversal), so
a classifier folder holds no pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..gestures.features import features

ARRAYS = ("mean", "scale", "roots", "feature", "threshold", "left", "right", "value")
"""The tensors a saved forest is made of (see ``Forest``)."""


def clip_features(waves: np.ndarray, sr: int, names: tuple[str, ...]) -> np.ndarray:
    """``waves [B, T]`` at ``sr`` Hz → ``[B, len(names)]`` float64: each clip's ``features``,
    in the order of ``names``."""
    rows = [features(np.asarray(w, dtype=np.float64), sr) for w in waves]
    return np.array([[row[k] for k in names] for row in rows], dtype=np.float64).reshape(
        len(rows), len(names)
    )


def feature_names(sr: int) -> tuple[str, ...]:
    """Every feature ``features`` gives, in name order (the forest's input columns)."""
    return tuple(sorted(features(np.zeros(sr // 10), sr)))


@dataclass(frozen=True)
class Forest:
    """A trained forest of ``n_trees`` trees holding ``N`` nodes in all, over ``F`` features and
    ``C`` classes.

    ``names [F]``: the feature of each input column. ``mean`` / ``scale`` ``[F]``: the training
    clips' mean and standard deviation of each feature (the embedding is the standardised
    features). ``roots [n_trees]``: each tree's first node. Per node ``[N]``: ``feature`` (the
    column it tests, -1 at a leaf), ``threshold`` (a clip whose value is at most this goes
    ``left``, else ``right``: node indices). ``value [N, C]``: at a leaf, the share of each class
    among the training clips that reach it; a clip's probabilities are the mean over the trees.
    """

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        names: tuple[str, ...],
        *,
        trees: int,
        min_leaf: int,
        seed: int,
    ) -> Forest:
        """Grow the forest on ``x [B, F]`` (``clip_features``) with class ids ``y [B]``.

        Each tree draws a bootstrap sample of the clips, weighted so that every class counts
        alike however many clips it has, and leaves hold at least ``min_leaf`` clips.
        """
        from sklearn.ensemble import RandomForestClassifier

        rf = RandomForestClassifier(
            n_estimators=trees, min_samples_leaf=min_leaf, class_weight="balanced",
            random_state=seed, n_jobs=1,
        )  # fmt: skip
        rf.fit(x, y)
        roots, feature, threshold, left, right, value = [], [], [], [], [], []
        offset = 0
        for tree in (est.tree_ for est in rf.estimators_):
            leaf = tree.children_left < 0
            roots.append(offset)
            feature.append(np.where(leaf, -1, tree.feature))
            threshold.append(tree.threshold)
            left.append(np.where(leaf, -1, tree.children_left + offset))
            right.append(np.where(leaf, -1, tree.children_right + offset))
            shares = np.zeros((tree.node_count, n_classes))
            shares[:, rf.classes_] = tree.value[:, 0, :]
            value.append(shares / np.maximum(shares.sum(axis=1, keepdims=True), 1e-300))
            offset += tree.node_count
        scale = x.std(axis=0)
        return cls(
            tuple(names), x.mean(axis=0), np.where(scale > 0, scale, 1.0),
            np.array(roots, np.int64), np.concatenate(feature).astype(np.int64),
            np.concatenate(threshold), np.concatenate(left).astype(np.int64),
            np.concatenate(right).astype(np.int64), np.concatenate(value),
        )  # fmt: skip

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """``x [B, F]`` → ``[B, C]`` float64: the mean over the trees of the class shares of the
        leaf each clip reaches (rows sum to 1)."""
        # The trees were grown on float32 copies of the features, so compare as they were.
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        node = np.repeat(self.roots[:, None], len(x), axis=1)  # [n_trees, B]
        clip = np.arange(len(x))[None, :]
        while True:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[clip, np.maximum(f, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node].mean(axis=0)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """``x [B, F]`` → ``[B, F]`` float32: the features standardised by the training clips'."""
        return ((x - self.mean) / self.scale).astype(np.float32)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The arrays to save (``ARRAYS``), as tensors."""
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in ARRAYS}

    @classmethod
    def from_tensors(
        cls, tensors: dict[str, torch.Tensor], names: list[str], n_classes: int
    ) -> Forest:
        """The forest ``tensors`` saved, over the features ``names``, scoring ``n_classes`` classes.

        Raises
        ------
        ValueError
            A tensor is missing, or the shapes do not fit together.
        """
        missing = [name for name in ARRAYS if name not in tensors]
        if missing:
            raise ValueError(f"the forest lacks {', '.join(missing)}")
        arrays = {name: tensors[name].numpy() for name in ARRAYS}
        n_nodes = len(arrays["feature"])
        shapes_fit = (
            len(arrays["mean"]) == len(arrays["scale"]) == len(names)
            and all(len(arrays[k]) == n_nodes for k in ("threshold", "left", "right", "value"))
            and arrays["feature"].max(initial=-1) < len(names)
            and max(arrays["left"].max(initial=-1), arrays["right"].max(initial=-1)) < n_nodes
            and arrays["roots"].max(initial=-1) < n_nodes
        )
        if not shapes_fit:
            raise ValueError(f"the forest's arrays do not fit together over {len(names)} features")
        if arrays["value"].shape[1] != n_classes:
            raise ValueError(
                f"its leaves score {arrays['value'].shape[1]} classes, the label list has {n_classes}"
            )
        return cls(tuple(names), **arrays)
