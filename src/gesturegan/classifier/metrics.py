"""Held-out metrics of a classifier: accuracy, macro-F1, per-class recall, confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``[n_classes, n_classes]`` counts; row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def summary(y_true: np.ndarray, y_pred: np.ndarray, names: list[str]) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix of one set of predictions.

    Macro-F1 averages the F1 of the classes present in ``y_true`` (a class with no examples has no
    recall and would only add a meaningless 0). Recall is ``None`` for a class without examples.

    Returns
    -------
    dict
        ``n, accuracy, macro_f1, per_class_recall {name: recall | None}, support {name: n},
        confusion [[...]]`` (rows true, columns predicted, in ``names`` order).
    """
    m = confusion(y_true, y_pred, len(names))
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    tp = np.diag(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        f1 = np.where(
            (precision + np.nan_to_num(recall)) > 0,
            2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)),
            0.0,
        )
    present = support > 0
    n = int(m.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class_recall": {
            name: (None if np.isnan(r) else float(r)) for name, r in zip(names, recall, strict=True)
        },
        "support": {name: int(s) for name, s in zip(names, support, strict=True)},
        "confusion": m.tolist(),
    }
