"""The judge's feature extraction against librosa computing the same features clip by clip.

1000 clips of 1.5 s at 44.1 kHz (``--quick``: 100), generated one-shots (decaying harmonic tones,
band-passed noise hits, glides), resampled once to the judge's analysis rate (22.05 kHz) for both
sides. ``ours`` is ``judge.features`` (one batched STFT per chunk of equal-length clips, shared by
the log-mel statistics, MFCCs and deltas, spectral flatness, contrast and centroid); the
``reference`` is librosa's own feature functions called per clip on its STFT, floored at the
judge's −96 dB as the judge hears (as one would write it with librosa). The benchmark first checks
both give the same numbers (within ``TOLERANCE``), then times each, torch and BLAS on 2 threads.

Beside it, for context: ``judge_clips_per_s``, the whole judge embedding (resampling, spectral and
envelope features, three random conv nets) of the same clips, and its peak memory (``peak_mb``,
whole process tree).
"""

from __future__ import annotations

import numpy as np

from common import TreeMonitor, emit, load_1m, quick, timeit

SR_IN = 44100
CLIP_S = 1.5
TOLERANCE = 1e-3  # relative, on the largest feature magnitude
CHUNK = 64  # clips per batched call


def main() -> None:
    import librosa  # noqa: F401  (imported before timing)
    import torch

    torch.set_num_threads(2)
    from gesturegan import audio
    from gesturegan.judge import clips, features
    from gesturegan.judge.config import JudgeConfig
    from gesturegan.judge.embed import Embedder

    n = 100 if quick() else 1000
    cfg = JudgeConfig()
    waves44 = _sounds(n, SR_IN)
    waves = np.stack([audio.resample(w, SR_IN, cfg.sr) for w in waves44])

    def ours() -> np.ndarray:
        out = []
        for s in range(0, len(waves), CHUNK):
            mag = features.spectrum(waves[s : s + CHUNK], cfg)
            out.append(features.spectral(mag, features.log_mel(mag, cfg), cfg))
        return np.concatenate(out)

    def reference() -> np.ndarray:
        return np.stack([_librosa_features(w, cfg) for w in waves])

    a, b = ours(), reference()
    diff = float(np.abs(a - b).max() / np.abs(b).max())
    if diff > TOLERANCE:
        raise SystemExit(f"bench_judge: features differ by {diff:.3g} (relative), not comparable")
    repeat = 2 if quick() else 1  # 1000 clips take minutes: one timing each keeps `make bench` short
    t_ours = timeit(ours, repeat=repeat)
    t_ref = timeit(reference, repeat=repeat)

    embedder = Embedder(cfg)
    with TreeMonitor() as tree:
        t_judge = timeit(
            lambda: embedder(
                clips.from_arrays([audio.resample(w, SR_IN, cfg.sr) for w in waves44], cfg.sr)
            ),
            repeat=1,
        )
    emit(
        "judge_features",
        n / t_ours.best,
        n / t_ref.best,
        "clips/s",
        better="higher",
        n_clips=n,
        clip_s=CLIP_S,
        sr=SR_IN,
        judge_clips_per_s=n / t_judge.best,
        peak_mb=tree.peak_mb,
        threads=2,
        load_1m=load_1m(),
    )


def _librosa_features(wave: np.ndarray, cfg) -> np.ndarray:
    """``judge.features.spectral`` of one clip, written with librosa's feature functions: its
    STFT floored at ``cfg.floor_db`` (a sine at that level, re full scale), as the judge hears it,
    then each feature from that magnitude."""
    import librosa

    from gesturegan.judge.features import floor_magnitude

    kw = {"n_fft": cfg.n_fft, "hop_length": cfg.hop}
    mag = np.maximum(np.abs(librosa.stft(wave, pad_mode="constant", **kw)), floor_magnitude(cfg))
    mel = librosa.feature.melspectrogram(S=mag**2, sr=cfg.sr, n_mels=cfg.n_mels, **kw)
    mel_db = librosa.power_to_db(mel, amin=1e-10, top_db=None)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=cfg.n_mfcc)
    delta = librosa.feature.delta(mfcc, width=9)
    flat = librosa.feature.spectral_flatness(S=mag, amin=1e-10, **kw)
    contrast = librosa.feature.spectral_contrast(S=mag, sr=cfg.sr, n_bands=6, **kw)
    centroid = np.log2(librosa.feature.spectral_centroid(S=mag, sr=cfg.sr, **kw) + 1.0)
    parts = [mel_db, mfcc, delta, flat, contrast, centroid]
    return np.concatenate([np.concatenate([p.mean(-1), p.std(-1)]) for p in parts])


def _sounds(n: int, sr: int) -> list[np.ndarray]:
    """``n`` one-shots of ``CLIP_S`` seconds: decaying tones, noise hits and glides in turn."""
    rng = np.random.default_rng(0)
    t = np.arange(int(CLIP_S * sr)) / sr
    out = []
    for i in range(n):
        env = np.exp(-t * rng.uniform(2, 15)) * np.minimum(t / rng.uniform(0.002, 0.1), 1)
        if i % 3 == 0:
            f0 = rng.uniform(100, 1200)
            w = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
        elif i % 3 == 1:
            w = np.cumsum(rng.standard_normal(len(t))) * 0.02 + rng.standard_normal(len(t))
        else:
            w = np.sin(2 * np.pi * rng.uniform(200, 600) * t * (1 + rng.uniform(-0.3, 0.3) * t))
        w = w * env
        out.append((rng.uniform(0.2, 0.9) * w / np.abs(w).max()).astype(np.float32))
    return out


if __name__ == "__main__":
    main()
