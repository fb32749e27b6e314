"""Training a classifier on a prepared dataset, with held-out metrics written beside the weights.

``train(data, out)`` splits the dataset by source file (``split.split_by_source``) or, with
``holdout_library``, tests on one whole library and trains on the others (``split.split_holding_out``);
the ``train_only`` libraries' clips are only trained on (``split.split_by_library``). It trains the
CNN on augmented training clips with class-weighted cross-entropy (or class-balanced draws) and
keeps the weights of the epoch with the lowest validation loss (early stopping), or, with
``model: features``, grows a random forest on the training clips' envelope features
(``forest``), and writes the classifier folder:

- ``config.yaml`` — the ``ClassifierConfig`` used (everything needed to repeat the run);
- ``classifier.safetensors`` + ``classifier.json`` — weights (or the forest's arrays) and how to
  rebuild the model for inference (labels, rate, length, alignment; the CNN's representation and
  network sizes, or the forest's features);
- ``split.csv`` — ``id, source, source_hash, label, split`` for every clip (``unused``: unlabelled,
  or sharing its contents with a held-out library's file; ``holdout``: kept out by ``prepare``);
- ``history.csv`` — one row per epoch (losses, accuracies, learning rate, seconds; a forest: one
  row);
- ``metrics.json`` — accuracy, macro-F1, per-class recall and confusion matrix on train (without
  augmentation), validation and test, and ``gap_points`` = train − test accuracy in points;
- ``confusion.png`` — the test confusion matrix.

Every file is written atomically; the weights are written last of the model files, so a folder with
``classifier.json`` always has matching weights.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from .. import __version__, representations
from ..atomic import atomic_path, write_text
from ..config import save_yaml, to_dict
from ..dataset import Dataset
from ..device import resolve
from ..errors import UserError
from . import metrics
from .augment import augment, mask_frequencies
from .config import ClassifierConfig
from .forest import Forest, clip_features, feature_names
from .model import GestureCNN
from .split import SPLITS, clip_libraries, read_groups, split_by_library, split_by_source

FORMAT_VERSION = 2  # 2: split.csv groups by ``source_hash`` (datasets of format 2)
WEIGHTS = "classifier.safetensors"
META = "classifier.json"
EVAL_BATCH = 64  # clips per forward pass when measuring (bounded memory)


@dataclass
class TrainSummary:
    """What ``train`` made: the folder, the metrics per split, and how the run went."""

    out: Path
    metrics: dict[str, dict]  # "train" / "val" / "test" → metrics.summary(...)
    gap_points: float  # train accuracy − test accuracy, in points
    epochs: int
    best_epoch: int
    seconds: float


def train(
    data: str | os.PathLike,
    out: str | os.PathLike,
    cfg: ClassifierConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
    device: str = "cpu",
) -> TrainSummary:
    """Train a classifier on the labelled dataset ``data`` and write it to the folder ``out``.

    Parameters
    ----------
    data : str | os.PathLike
        Dataset folder made by ``gesturegan prepare`` with labels (any label set).
    out : str | os.PathLike
        Classifier folder to write (see the module docstring).
    cfg : ClassifierConfig | None
        Options; ``None`` uses the defaults.
    progress : Callable[[int, int], None] | None
        Called as ``progress(epoch, max_epochs)`` after each epoch (a forest: ``(0, 1)``, then
        ``(1, 1)`` once grown).
    overwrite : bool
        Replace a classifier already in ``out``.
    device : str
        Where the CNN trains (``gesturegan.device.resolve``); clips are augmented and encoded on
        the CPU, and a forest grows there.

    Returns
    -------
    TrainSummary

    Raises
    ------
    UserError
        The dataset has no labels or fewer than two classes, the CNN's representation is not an
        image, or ``out`` already holds a classifier and ``overwrite`` is false.
    """
    t0 = time.perf_counter()
    cfg = cfg or ClassifierConfig()
    out = Path(out)
    if (out / META).exists() and not overwrite:
        raise UserError(f"{out} already holds a classifier; choose another folder or overwrite")
    ds = Dataset.open(data)
    if not ds.has_labels or len(ds.label_names) < 2:
        raise UserError(f"{ds.path} needs labels of at least two classes to train a classifier")
    rep = None
    if cfg.model == "cnn":
        rep = representations.get(cfg.repr, sr=ds.sr, length=ds.length, **cfg.repr_options)
        if len(rep.shape) != 3:
            raise UserError(f"representation {cfg.repr!r} is not an image (shape {rep.shape})")

    splits = _split(ds, cfg)
    idx = {s: np.flatnonzero(splits == s) for s in SPLITS}
    if len(idx["val"]) == 0:
        raise UserError(
            f"{ds.path} is too small to hold out a validation set (needs three source files in "
            "at least one class)"
        )
    if rep is None:
        learnt = _grow_forest(ds, idx, cfg, progress)
    else:
        learnt = _train_cnn(ds, rep, idx, cfg, resolve(device), progress)

    results = {
        s: metrics.summary(ds.label_ids[idx[s]], learnt.predict(idx[s]), ds.label_names)
        for s in SPLITS
        if len(idx[s])
    }
    test_acc = results["test"]["accuracy"] if "test" in results else float("nan")
    gap = 100.0 * (results["train"]["accuracy"] - test_acc)
    seconds = time.perf_counter() - t0

    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, out / "config.yaml")
    _write_split(out / "split.csv", ds, splits)
    _write_history(out / "history.csv", learnt.history)
    report = {
        **results,
        "gap_points": gap,
        "epochs": len(learnt.history),
        "best_epoch": learnt.best_epoch,
        "seconds": seconds,
        "holdout_library": cfg.holdout_library,
        "dataset": str(ds.path.absolute()),
        "labels": ds.label_names,
    }
    write_text(out / "metrics.json", json.dumps(report, indent=2) + "\n")
    if "test" in results:
        from ..plots import confusion_plot

        confusion_plot(
            np.array(results["test"]["confusion"]), ds.label_names, out / "confusion.png",
            title=f"{cfg.holdout_library or 'test'}: accuracy {test_acc:.1%}, "
            f"macro-F1 {results['test']['macro_f1']:.2f}",
        )  # fmt: skip
    meta = {
        "format_version": FORMAT_VERSION,
        "label_names": ds.label_names,
        "sr": ds.sr,
        "length": ds.length,
        "align": ds.info.get("align", "start"),
        **learnt.meta,
        "config": to_dict(cfg),
        "gesturegan_version": __version__,
    }
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(learnt.tensors, str(tmp), metadata={"format": "gesturegan-classifier"})
    write_text(out / META, json.dumps(meta, indent=2) + "\n")
    return TrainSummary(out, results, gap, len(learnt.history), learnt.best_epoch, seconds)


# --- Internals ----------------------------------------------------------------------------------


@dataclass
class _Learnt:
    """What a model learnt: its predictions, its training history, and what the folder saves."""

    predict: Callable[[np.ndarray], np.ndarray]  # clip ids [n] → predicted class ids [n]
    history: list[dict]  # one row per epoch
    best_epoch: int
    tensors: dict[str, torch.Tensor]  # classifier.safetensors
    meta: dict  # classifier.json's description of the model


def _train_cnn(ds, rep, idx, cfg, where, progress) -> _Learnt:
    """Train ``GestureCNN`` on the training clips with early stopping on the validation loss."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n_classes = len(ds.label_names)
    model = GestureCNN(
        n_classes,
        rep.shape[0],
        tuple(cfg.channels),
        cfg.time_steps,
        cfg.embed_dim,
        cfg.dropout,
        cfg.freq_pool,
        cfg.time_pool,
    ).to(where)
    counts = np.bincount(ds.label_ids[idx["train"]], minlength=n_classes).astype(np.float64)
    weight = None
    if cfg.class_weighting:
        w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
        weight = torch.tensor(w, dtype=torch.float32, device=where)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)

    if progress is not None:
        progress(0, cfg.max_epochs)
    history: list[dict] = []
    best = (float("inf"), -1, copy.deepcopy(model.state_dict()))
    deadline = t0 + cfg.minutes * 60 if cfg.minutes else float("inf")
    for epoch in range(1, cfg.max_epochs + 1):
        e0 = time.perf_counter()
        order = epoch_order(ds.label_ids[idx["train"]], idx["train"], cfg.balanced_sampling, gen)
        # Balanced draws already even out the classes: weighting the loss too would count twice.
        train_weight = None if cfg.balanced_sampling else weight
        loss, acc = _train_epoch(model, ds, rep, order, cfg, train_weight, opt, gen)
        val_loss, val_pred = _evaluate(model, ds, rep, idx["val"], weight)
        val_acc = float(np.mean(val_pred == ds.label_ids[idx["val"]]))
        sched.step(val_loss)
        history.append({
            "epoch": epoch, "train_loss": loss, "train_acc_augmented": acc, "val_loss": val_loss,
            "val_acc": val_acc, "lr": opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - e0,
        })  # fmt: skip
        if val_loss < best[0]:
            best = (val_loss, epoch, copy.deepcopy(model.state_dict()))
        if progress is not None:
            progress(epoch, cfg.max_epochs)
        if time.perf_counter() > deadline:
            break
        if epoch >= cfg.min_epochs and epoch - best[1] >= cfg.patience:
            break
    model.load_state_dict(best[2])
    meta = {
        "repr": cfg.repr,
        "repr_options": dict(cfg.repr_options),
        "in_channels": rep.shape[0],
        "model": {
            "kind": "cnn",
            "channels": list(cfg.channels),
            "time_steps": cfg.time_steps,
            "embed_dim": cfg.embed_dim,
            "dropout": cfg.dropout,
            "freq_pool": cfg.freq_pool,
            "time_pool": cfg.time_pool,
        },
    }
    return _Learnt(
        lambda ids: _evaluate(model, ds, rep, ids, weight)[1],
        history,
        best[1],
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        meta,
    )


def _grow_forest(ds, idx, cfg, progress) -> _Learnt:
    """Grow a ``forest.Forest`` on the training clips' envelope features (no epochs: one row of
    history, and the validation clips are only measured)."""
    t0 = time.perf_counter()
    if progress is not None:
        progress(0, 1)
    names = feature_names(ds.sr)
    ids = np.concatenate([idx[s] for s in SPLITS])
    x = np.zeros((len(ds), len(names)))
    for start in range(0, len(ids), EVAL_BATCH):
        batch = ids[start : start + EVAL_BATCH]
        x[batch] = clip_features(ds.batch(batch)[0], ds.sr, names)
    forest = Forest.fit(
        x[idx["train"]], ds.label_ids[idx["train"]], len(ds.label_names), names,
        trees=cfg.trees, min_leaf=cfg.min_leaf, seed=cfg.seed,
    )  # fmt: skip

    def predict(clip_ids: np.ndarray) -> np.ndarray:
        return forest.probabilities(x[clip_ids]).argmax(axis=1)

    accuracy = {
        s: float(np.mean(predict(idx[s]) == ds.label_ids[idx[s]])) for s in ("train", "val")
    }
    history = [{
        "epoch": 1, "train_acc": accuracy["train"], "val_acc": accuracy["val"],
        "seconds": time.perf_counter() - t0,
    }]  # fmt: skip
    if progress is not None:
        progress(1, 1)
    meta = {
        "model": {
            "kind": "features",
            "features": list(names),
            "trees": cfg.trees,
            "min_leaf": cfg.min_leaf,
        }
    }
    return _Learnt(predict, history, 1, forest.tensors(), meta)


def _split(ds: Dataset, cfg: ClassifierConfig) -> np.ndarray:
    """``[N]`` split name per clip: ``train``/``val``/``test``, ``unused`` (see ``split``), or
    ``holdout`` for the clips ``prepare --holdout`` kept out of all training."""
    labelled = np.intersect1d(np.flatnonzero(ds.label_ids >= 0), ds.train_ids)
    rows = [ds.manifest[i] for i in labelled]
    keys = [row["source_hash"] or row["source"] for row in rows]
    splits = np.full(len(ds), "unused", dtype=object)
    splits[ds.holdout_ids] = "holdout"
    if cfg.holdout_library is None and not cfg.train_only:
        splits[labelled] = split_by_source(
            ds.label_ids[labelled], keys, cfg.val_fraction, cfg.test_fraction, cfg.seed
        )
        return splits
    root = ds.info.get("source", ".")
    groups = read_groups(cfg.groups, root) if cfg.groups else None
    libraries = clip_libraries([row["source"] for row in rows], root, groups)
    splits[labelled] = split_by_library(
        ds.label_ids[labelled], keys, libraries, cfg.holdout_library, cfg.train_only,
        (cfg.val_fraction, cfg.test_fraction), cfg.seed,
    )  # fmt: skip
    return splits


def epoch_order(
    labels: np.ndarray, indices: np.ndarray, balanced: bool, gen: torch.Generator
) -> np.ndarray:
    """The clips of one training epoch, in the order they are seen: ``[len(indices)]`` ids.

    ``indices`` are the training clips' ids and ``labels`` their class ids (same length). Plain:
    every clip once, shuffled. ``balanced``: as many draws, each a class chosen uniformly among
    those present and then one of its clips, both with replacement, so every class is seen about
    equally often whatever its share of the training split.
    """
    if not balanced:
        return indices[torch.randperm(len(indices), generator=gen).numpy()]
    classes = np.unique(labels)
    pick = torch.randint(len(classes), (len(indices),), generator=gen).numpy()
    u = torch.rand(len(indices), generator=gen, dtype=torch.float64).numpy()
    order = np.empty(len(indices), dtype=indices.dtype)
    for k, c in enumerate(classes):
        members = indices[labels == c]
        draw = pick == k
        order[draw] = members[np.minimum((u[draw] * len(members)).astype(int), len(members) - 1)]
    return order


def _train_epoch(model, ds, rep, order, cfg, weight, opt, gen) -> tuple[float, float]:
    """One pass over the training clips ``order`` (see ``epoch_order``); returns (mean loss,
    accuracy)."""
    model.train()
    total_loss = correct = 0.0
    for start in range(0, len(order), cfg.batch_size):
        batch = np.sort(order[start : start + cfg.batch_size])
        if len(batch) < 2:  # batch norm needs two examples
            continue
        waves, labels = ds.batch(batch)
        x = augment(torch.from_numpy(waves), ds.sr, cfg.augment, gen)
        y = torch.from_numpy(labels)
        with torch.no_grad():
            images = mask_frequencies(rep.encode(x), cfg.augment.freq_mask, gen)
        device = next(model.parameters()).device
        images, y = images.to(device), y.to(device)
        logits, _ = model(images)
        loss = F.cross_entropy(logits, y, weight=weight, label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total_loss += loss.item() * len(batch)
        correct += float((logits.argmax(1) == y).sum())
    return total_loss / len(order), correct / len(order)


@torch.no_grad()
def _evaluate(model, ds, rep, indices, weight) -> tuple[float, np.ndarray]:
    """(class-weighted mean cross-entropy, predicted ids) over ``indices``, without augmentation."""
    model.eval()
    preds, total = [], 0.0
    weight_sum = 0.0
    for start in range(0, len(indices), EVAL_BATCH):
        batch = indices[start : start + EVAL_BATCH]
        waves, labels = ds.batch(batch)
        device = next(model.parameters()).device
        logits, _ = model(rep.encode(torch.from_numpy(waves)).to(device))
        y = torch.from_numpy(labels).to(device)
        w = weight[y] if weight is not None else torch.ones(len(y), device=device)
        total += float((F.cross_entropy(logits, y, reduction="none") * w).sum())
        weight_sum += float(w.sum())
        preds.append(logits.argmax(1).cpu().numpy())
    return total / max(weight_sum, 1e-12), np.concatenate(preds)


def _write_split(path: Path, ds: Dataset, splits: np.ndarray) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("id", "source", "source_hash", "label", "split"))
    for row, s in zip(ds.manifest, splits, strict=True):
        w.writerow((row["id"], row["source"], row["source_hash"], row["label"], s))
    write_text(path, buf.getvalue())


def _write_history(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    write_text(path, buf.getvalue())
