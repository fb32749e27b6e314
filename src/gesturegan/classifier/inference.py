"""A trained classifier for inference: class probabilities and the embedding of clips.

>>> clf = Classifier.load("classifiers/gestures")  # doctest: +SKIP
>>> clf.label_names, clf.sr, clf.length, clf.embed_dim  # doctest: +SKIP
(['continuous_repetition', 'continuous_variation', 'trigger', 'trigger_continuous'], 22050, 16384, 128)
>>> emb = clf.embed(waves)            # waves: [B, 16384] float32 → [B, 128] float32
>>> probs = clf.probabilities(waves)  # → [B, 4], rows sum to 1
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .. import representations
from ..dataset import Dataset
from ..device import resolve
from ..errors import UserError
from . import metrics
from .forest import Forest, clip_features
from .model import GestureCNN
from .train import EVAL_BATCH, FORMAT_VERSION, META, WEIGHTS


class Classifier:
    """A classifier folder made by ``train``, ready for inference on CPU.

    Attributes
    ----------
    path : Path
        The folder.
    label_names : list[str]
        Class names; column ``k`` of ``probabilities`` is ``label_names[k]``.
    sr, length : int
        Rate (Hz) and clip length (samples) the classifier expects.
    align : str
        How its training clips were cut from their files (``prepare --align``).
    embed_dim : int
        Width of the embedding: the CNN's penultimate layer, or a forest's standardised envelope
        features (one per feature).
    model : GestureCNN | Forest
        What decides (``classifier.json``'s ``model.kind``: ``cnn`` or ``features``).
    """

    def __init__(
        self, path: Path, meta: dict, model: GestureCNN | Forest, device: str = "cpu"
    ) -> None:
        self.device = resolve(device)
        self.path, self.meta = path, meta
        self.label_names: list[str] = list(meta["label_names"])
        self.sr, self.length = int(meta["sr"]), int(meta["length"])
        self.align: str = meta.get("align", "start")
        if isinstance(model, Forest):
            self.model, self.rep, self.embed_dim = model, None, len(model.names)
        else:
            self.model = model.to(self.device).eval()
            self.embed_dim = int(meta["model"]["embed_dim"])
            self.rep = representations.get(
                meta["repr"], sr=self.sr, length=self.length, **meta.get("repr_options", {})
            )

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> Classifier:
        """Open the classifier folder ``path`` (``classifier.json`` + ``classifier.safetensors``)
        onto ``device`` (``gesturegan.device.resolve``).

        Raises
        ------
        UserError
            No classifier there, a newer format, or damaged files.
        """
        path = Path(path)
        if not (path / META).is_file() or not (path / WEIGHTS).is_file():
            raise UserError(
                f"{path}: no trained classifier ({META}, {WEIGHTS}); "
                "train one with `gesturegan classifier train`"
            )
        try:
            meta = json.loads((path / META).read_text(encoding="utf-8"))
            state = load_file(str(path / WEIGHTS))
        except Exception as exc:
            raise UserError(f"{path}: damaged classifier files ({exc})") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(
                f"{path}: classifier format {meta.get('format_version')!r}; this gesturegan reads "
                f"format {FORMAT_VERSION}"
            )
        m = meta["model"]
        if m.get("kind", "cnn") == "features":  # saved before `kind` existed: a CNN
            try:
                forest = Forest.from_tensors(state, m["features"], len(meta["label_names"]))
            except (KeyError, ValueError) as exc:
                raise UserError(f"{path}: forest does not match classifier.json ({exc})") from exc
            return cls(path, meta, forest, device)
        model = GestureCNN(
            len(meta["label_names"]),
            int(meta["in_channels"]),
            tuple(m["channels"]),
            int(m["time_steps"]),
            int(m["embed_dim"]),
            float(m["dropout"]),
            int(m["freq_pool"]),
            int(m.get("time_pool", 1)),  # classifiers saved before it pooled no columns
        )
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise UserError(f"{path}: weights do not match classifier.json ({exc})") from exc
        return cls(path, meta, model, device)

    def outputs(self, waves: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(embedding [B, embed_dim], probabilities [B, n_classes])`` of ``waves [B, length]``.

        ``waves`` are float clips in [-1, 1] at ``sr`` Hz (one clip ``[length]`` is a batch of one).
        Work is done ``EVAL_BATCH`` clips at a time, without gradients.
        """
        x = torch.as_tensor(np.array(waves, dtype=np.float32))  # a copy: memmaps are read-only
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.length:
            raise UserError(
                f"the classifier in {self.path} takes clips of {self.length} samples at "
                f"{self.sr} Hz, [B, {self.length}]; got shape {list(x.shape)}"
            )
        embs, probs = [], []
        with torch.no_grad():
            for start in range(0, len(x), EVAL_BATCH):
                batch = x[start : start + EVAL_BATCH]
                if self.rep is None:
                    feats = clip_features(batch.numpy(), self.sr, self.model.names)
                    embs.append(self.model.embed(feats))
                    probs.append(self.model.probabilities(feats).astype(np.float32))
                    continue
                logits, emb = self.model(self.rep.encode(batch.to(self.device)))
                embs.append(emb.cpu().numpy())
                probs.append(torch.softmax(logits, dim=1).cpu().numpy())
        if not embs:
            return np.zeros((0, self.embed_dim), np.float32), np.zeros(
                (0, len(self.label_names)), np.float32
            )
        return np.concatenate(embs), np.concatenate(probs)

    def embed(self, waves: np.ndarray | torch.Tensor) -> np.ndarray:
        """The penultimate layer: ``waves [B, length]`` → ``[B, embed_dim]`` float32 (≥ 0; a
        forest's: the standardised features, of any sign).

        This is the feature space of the project's Fréchet distance: two sets of clips are compared
        by the mean and covariance of their embeddings.
        """
        return self.outputs(waves)[0]

    def probabilities(self, waves: np.ndarray | torch.Tensor) -> np.ndarray:
        """``waves [B, length]`` → class probabilities ``[B, n_classes]`` (softmax, rows sum to 1)."""
        return self.outputs(waves)[1]

    def predict(self, waves: np.ndarray | torch.Tensor) -> list[str]:
        """The most probable class name of each clip of ``waves [B, length]``."""
        return [self.label_names[i] for i in self.probabilities(waves).argmax(axis=1)]

    def __repr__(self) -> str:
        return (
            f"Classifier({str(self.path)!r}: {', '.join(self.label_names)}; "
            f"{self.length} samples @ {self.sr} Hz; embedding {self.embed_dim})"
        )


def load(path: str | os.PathLike, device: str = "cpu") -> Classifier:
    """``Classifier.load(path, device)``."""
    return Classifier.load(path, device)


@dataclass
class EvalResult:
    """Metrics of a classifier on the clips of a dataset it did not learn from."""

    metrics: dict  # metrics.summary(...) over the held-out clips
    n_held_out: int  # clips measured
    n_seen: int  # clips left out because the classifier trained or validated on their source
    n_unknown_label: int  # clips left out because their label is not one of the classifier's
    dataset: Path

    def to_dict(self) -> dict:
        return {
            **self.metrics,
            "n_held_out": self.n_held_out,
            "n_seen_in_training": self.n_seen,
            "n_unknown_label": self.n_unknown_label,
            "dataset": str(self.dataset),
        }


def evaluate(
    model_dir: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    device: str = "cpu",
) -> EvalResult:
    """Measure the classifier ``model_dir`` on the labelled dataset ``data``.

    Only clips the classifier never learnt from count: a clip whose source file (by content hash)
    is in the classifier's training or validation split is left out, so evaluating on the training
    dataset measures exactly its test split, and any other dataset is measured whole. Labels are
    matched by name; clips whose label the classifier does not know are left out and counted.

    Parameters
    ----------
    model_dir : str | os.PathLike
        Classifier folder.
    data : str | os.PathLike
        Dataset folder (``gesturegan prepare``) with labels, at the classifier's rate and length.
    out : str | os.PathLike | None
        Folder for ``metrics.json`` and ``confusion.png`` (nothing written when ``None``).
    device : str
        Where the classifier runs (``gesturegan.device.resolve``).

    Returns
    -------
    EvalResult

    Raises
    ------
    UserError
        Unlabelled dataset, another rate or clip length, or no clip left to measure.
    """
    clf = Classifier.load(model_dir, device)
    ds = Dataset.open(data)
    if not ds.has_labels:
        raise UserError(f"{ds.path} has no labels: nothing to measure the classifier against")
    if (ds.sr, ds.length) != (clf.sr, clf.length):
        raise UserError(
            f"{ds.path} holds {ds.length}-sample clips at {ds.sr} Hz; the classifier takes "
            f"{clf.length} at {clf.sr} Hz (prepare the dataset with --sr {clf.sr} --length "
            f"{clf.length})"
        )
    seen = _seen_sources(clf.path)
    class_of = {name: i for i, name in enumerate(clf.label_names)}
    keep, truth, n_seen, n_unknown = [], [], 0, 0
    for i, row in enumerate(ds.manifest):
        if row["label"] not in class_of:
            n_unknown += 1
        elif (row["source_hash"] or row["source"]) in seen:
            n_seen += 1
        else:
            keep.append(i)
            truth.append(class_of[row["label"]])
    if not keep:
        raise UserError(
            f"no clip of {ds.path} is held out from the classifier's training "
            f"({n_seen} seen in training, {n_unknown} with unknown labels)"
        )
    preds = []
    for start in range(0, len(keep), EVAL_BATCH):
        waves, _ = ds.batch(keep[start : start + EVAL_BATCH])
        preds.append(clf.probabilities(waves).argmax(axis=1))
    summary = metrics.summary(np.array(truth), np.concatenate(preds), clf.label_names)
    result = EvalResult(summary, len(keep), n_seen, n_unknown, ds.path.absolute())
    if out is not None:
        from ..atomic import write_text
        from ..plots import confusion_plot

        out = Path(out)
        write_text(out / "metrics.json", json.dumps(result.to_dict(), indent=2) + "\n")
        confusion_plot(
            np.array(summary["confusion"]), clf.label_names, out / "confusion.png",
            title=f"{ds.path.name}: accuracy {summary['accuracy']:.1%}, "
            f"macro-F1 {summary['macro_f1']:.2f}",
        )  # fmt: skip
    return result


def _seen_sources(path: Path) -> set[str]:
    """Group keys (content hash, else source path) of the training and validation clips."""
    try:
        with open(path / "split.csv", newline="", encoding="utf-8") as f:
            return {
                row["source_hash"] or row["source"]
                for row in csv.DictReader(f)
                if row["split"] in ("train", "val")
            }
    except (OSError, KeyError, csv.Error) as exc:
        raise UserError(f"{path}/split.csv is missing or damaged ({exc})") from exc
