"""Importer for daisukelab's FAT2019 "prep-mels" pickles: mel images → a ``daisukelab_mel`` dataset.

The published data set (Kaggle "fat2019_prep_mels1": ``mels_train_curated.pkl``,
``mels_train_noisy.pkl``, ``mels_test.pkl``) holds, per pickle, a Python ``list`` of numpy arrays,
one per row of the matching FSDKaggle2019 CSV and in its order: ``[128, T, 3] uint8`` images of
the clip's log-mel spectrogram (row 0 = lowest of 128 mel bands, ``T`` frames, three equal channels),
made at 44.1 kHz with ``n_fft = 2560``, hop ``694`` (``347 * 2``), ``fmin = 20`` Hz, ``fmax =
22050`` Hz, ``power_to_db`` (floor 80 dB under the clip's maximum), then standardised and stretched
to 0..255 per clip (see ``representations.daisukelab``). Clips shorter than 2 s were padded to 2 s
before, so ``T >= 128``. The original training cropped each image to 128 frames (a random window
each epoch); here the crop is fixed (``crop``), so the dataset is reproducible.

The dataset written is an ordinary dataset folder (``prepare``'s layout) plus the images:

- ``mels.npy``: ``[N, 3, 128, 128] uint8``, the cropped images, in the layout of the
  ``daisukelab_mel`` representation (``[B, 3, n_mels, frames]``, row 0 = lowest band);
- ``audio.npy``: ``[N, 65536] float32`` at 22050 Hz: each image turned back into sound by
  ``image_to_audio`` (the 2.01 s the crop covers, then silence), so every audio tool of the project
  (representations at the 256x256 geometry, the labeler, training) works on it too;
- ``dataset.json`` adds ``representation: "daisukelab_mel"``, ``images: "mels.npy"`` and the
  geometry of the images (``image_sr``, ``image_hop``, ``image_n_fft``, ``crop``).

Pickles can run code when loaded; only numpy arrays in lists are accepted (``UserError`` otherwise).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import pickle
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xxhash

from .. import __version__, audio
from ..atomic import write_text
from ..errors import UserError
from .install import check_out, install
from .prepare import FORMAT_VERSION, MANIFEST_COLUMNS, PrepareSummary
from .scan import LABEL_COLUMNS, csv_columns

IMAGE_SR, IMAGE_HOP, IMAGE_N_FFT, IMAGE_FMIN = 44100, 694, 2560, 20.0  # the data set's mel geometry
SIDE = 128  # images are cropped / padded to SIDE x SIDE
TOP_DB = 80.0  # dB the 0..255 levels are assumed to span (power_to_db's floor)
SR, LENGTH = 22050, 65536  # the audio of the dataset written
CROPS = ("start", "center", "random")
PEAK_DB = -6.0  # level of the decoded audio (the images carry none)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays (any numpy version's names) and nothing that could run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }  # fmt: skip

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a prep-mels pickle")
        return super().find_class(module, name)


def read_prep_mels(path: str | os.PathLike) -> list[np.ndarray]:
    """Load a prep-mels pickle: a list of ``[128, T, 3] uint8`` images (``UserError`` otherwise)."""
    try:
        with open(path, "rb") as f:
            images = _ArraysOnly(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a prep-mels pickle ({exc})") from exc
    if not isinstance(images, list) or not images:
        raise UserError(f"{path} holds no list of mel images")
    for i, x in enumerate(images):
        if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 3):
            raise UserError(f"{path}: item {i} is not a uint8 image array")
        if x.shape[0] != SIDE or x.shape[2] != 3:
            raise UserError(f"{path}: item {i} has shape {x.shape}, not (128, T, 3)")
    return images


def fit_image(image: np.ndarray, crop: str = "start", rng: np.random.Generator | None = None):
    """``[128, T, 3] uint8`` → ``([3, 128, 128] uint8, first frame)``: cropped, or padded with 0.

    ``crop``: ``"start"`` (frames 0..127; the data set's clips were trimmed, so the sound starts
    there), ``"center"``, or ``"random"`` (one draw from ``rng``, as the original's training crop).
    Images narrower than 128 frames are padded at the end with 0, the floor level.
    """
    n = image.shape[1]
    if n <= SIDE:
        start = 0
    elif crop == "start":
        start = 0
    elif crop == "center":
        start = (n - SIDE) // 2
    else:
        start = int((rng or np.random.default_rng(0)).integers(0, n - SIDE + 1))
    x = image[:, start : start + SIDE]
    if x.shape[1] < SIDE:
        x = np.pad(x, ((0, 0), (0, SIDE - x.shape[1]), (0, 0)))
    return np.ascontiguousarray(x.transpose(2, 0, 1)), start


def image_to_audio(image: np.ndarray, n_iter: int = 16) -> np.ndarray:
    """The documented inverse: a ``[3, 128, F] uint8`` image → ``[(F - 1) * 694] float32`` at 44.1 kHz.

    1. the three channels are averaged; level ``v`` in 0..255 becomes ``(v - max) / (max - min) *
       80`` dB (the stretch maps the clip's range, which ``power_to_db`` floors at 80 dB, onto
       0..255); the floor becomes silence;
    2. mel power → STFT magnitude with the pseudo-inverse of the Slaney mel filterbank (clipped at 0);
    3. phase by ``n_iter`` iterations of librosa's fast Griffin-Lim (``n_fft`` 2560, hop 694);
    4. peak scaled to ``PEAK_DB`` dBFS, since the image keeps no absolute level (silent if flat).

    About 0.2 s per image on one core (16 iterations of 14 ms), so about 17 minutes for the 4970
    images of ``mels_train_curated.pkl``.
    """
    import librosa

    levels = image.astype(np.float64).mean(axis=0)  # [128, F]
    lo, hi = levels.min(), levels.max()
    if hi - lo < 1:
        return np.zeros((image.shape[2] - 1) * IMAGE_HOP, np.float32)
    mel = np.where(levels <= lo, 0.0, 10 ** ((levels - hi) / (hi - lo) * TOP_DB / 10))
    magnitude = np.sqrt(np.clip(_mel_inverse() @ mel, 0, None)).astype(np.float32)
    wave = librosa.griffinlim(
        magnitude, n_iter=n_iter, hop_length=IMAGE_HOP, n_fft=IMAGE_N_FFT, random_state=0,
        length=(image.shape[2] - 1) * IMAGE_HOP,
    )  # fmt: skip
    peak = float(np.abs(wave).max())
    return (wave * (10 ** (PEAK_DB / 20) / peak if peak > 0 else 0.0)).astype(np.float32)


@functools.cache
def _mel_inverse() -> np.ndarray:
    """Pseudo-inverse ``[1281, 128]`` of the data set's Slaney mel filterbank."""
    import librosa

    basis = librosa.filters.mel(
        sr=IMAGE_SR, n_fft=IMAGE_N_FFT, n_mels=SIDE, fmin=IMAGE_FMIN, fmax=IMAGE_SR // 2
    )
    return np.linalg.pinv(basis)


def import_prep_mels(
    pickle_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels_csv: str | os.PathLike | None = None,
    crop: str = "start",
    seed: int = 0,
    overwrite: bool = False,
) -> PrepareSummary:
    """Turn a prep-mels pickle (and its FSDKaggle2019 CSV) into a dataset folder (module docstring).

    Parameters
    ----------
    pickle_path : ``mels_*.pkl`` from the data set.
    out : dataset folder to create.
    labels_csv : the CSV whose rows the pickle follows (``train_curated.csv``: ``fname,labels``);
        row ``i`` labels image ``i`` with its first label, and names it in the manifest. ``None``:
        unlabelled, images named ``<pickle>#<i>``.
    crop : ``"start"``, ``"center"`` or ``"random"`` (see ``fit_image``).
    seed : for ``crop="random"``.
    overwrite : replace an existing dataset at ``out``.

    Raises
    ------
    UserError : unreadable pickle or CSV, or a CSV whose row count differs from the image count.
    """
    pickle_path, out = Path(pickle_path).absolute(), Path(out).absolute()
    if crop not in CROPS:
        raise UserError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    check_out(out, overwrite)
    images = read_prep_mels(pickle_path)
    names, labels = _csv_rows(Path(labels_csv), len(images)) if labels_csv else (None, None)
    rng = np.random.default_rng(seed)
    partial = out.with_name(f"{out.name}.importing-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        n = len(images)
        counts: dict[str, int] = {}
        with (
            open(partial / "manifest.csv", "w", newline="", encoding="utf-8") as f,
            _npy(partial / "mels.npy", "|u1", (n, 3, SIDE, SIDE)) as mels,
            _npy(partial / "audio.npy", "<f4", (n, LENGTH)) as waves,
        ):  # plain writes, row by row: no page of either array stays in memory
            manifest = csv.writer(f)
            manifest.writerow(MANIFEST_COLUMNS)
            for i in range(n):
                image = images[i]
                images[i] = None  # the list is the only copy: let each image go once used
                x, start = fit_image(image, crop, rng)
                mels.write(x)
                wave = audio.resample(image_to_audio(x), IMAGE_SR, SR)[:LENGTH]
                waves.write(np.pad(wave, (0, LENGTH - len(wave))).astype("<f4"))
                label = labels[i] if labels else ""
                counts[label] = counts.get(label, 0) + 1
                source = names[i] if names else f"{pickle_path.name}#{i}"
                manifest.writerow([
                    i, source, label, IMAGE_SR, 1, f"{image.shape[1] * IMAGE_HOP / IMAGE_SR:.6f}",
                    start * IMAGE_HOP * SR // IMAGE_SR, f"{np.abs(wave).max():.6g}",
                    f"{np.sqrt(np.mean(np.square(wave, dtype=np.float64))):.6g}",
                    xxhash.xxh3_128(image.tobytes()).hexdigest(),
                ])  # fmt: skip
        write_text(partial / "errors.csv", "file,reason\n")
        named = sorted(k for k in counts if k)
        info = {
            "format_version": FORMAT_VERSION, "sr": SR, "length": LENGTH, "labels": named,
            "counts": {k: counts[k] for k in named}, "n_clips": n, "n_errors": 0, "n_ignored": 0,
            "source": str(pickle_path), "align": "start", "shard": None, "n_files_total": n,
            "min_duration_s": 0.0, "normalize": "none", "level_db": None,
            "representation": "daisukelab_mel", "images": "mels.npy", "image_sr": IMAGE_SR,
            "image_hop": IMAGE_HOP, "image_n_fft": IMAGE_N_FFT, "crop": crop,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "gesturegan_version": __version__,
        }  # fmt: skip
        write_text(partial / "dataset.json", json.dumps(info, indent=2) + "\n")
        install(partial, out, overwrite)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return PrepareSummary(out, n, 0, info["counts"])


def _npy(path: Path, descr: str, shape: tuple[int, ...]):
    """A file opened for writing an ``.npy`` of ``shape``, its header written; rows follow."""
    f = open(path, "wb")  # noqa: SIM115 (the caller closes it)
    np.lib.format.write_array_header_1_0(
        f, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return f


def _csv_rows(path: Path, n_images: int) -> tuple[list[str], list[str]]:
    """File names and first labels of the CSV's rows, which must number ``n_images``."""
    body = csv_columns(path, "labels", LABEL_COLUMNS, "fname,labels")
    if len(body) != n_images:
        raise UserError(
            f"labels CSV {path} has {len(body)} rows but the pickle {n_images} images; "
            "give the CSV the pickle was made from (train_curated.csv for mels_train_curated.pkl)"
        )
    return [file for file, _ in body], [labels.split(",")[0].strip() for _, labels in body]
