"""The labeler's energy envelope against librosa computing the same numbers.

``gestures.envelope`` (RMS in dB over 512-sample frames every 256 samples, centred, zero-padded,
DC removed) is the base of every gesture feature. The reference computes exactly that with librosa:
DC removal in numpy, ``librosa.feature.rms(frame_length=512, hop_length=256, center=True,
pad_mode="constant")``, then ``10 * log10(max(rms**2, floor))``. The benchmark first checks that both
give the same envelope (within ``TOLERANCE_DB``), then times each over the same clips.

Two sizes, one line each: ``labeler_envelope_clip`` on the built-in corpus's 0.74 s clips (500;
``--quick``: 100), where per-call overhead dominates, and ``labeler_envelope_long`` on 30 s files
(the corpus clips end to end), where the arithmetic does.

The rest of ``gestures.features`` (onsets, periodicity, spectral flux, ...) has no librosa
counterpart with the same definitions, so it has no reference here; its speed, and that of
``gestures.label``, is printed beside the clip line (``features_clips_per_s``, ``label_clips_per_s``)
for context only.
"""

from __future__ import annotations

import numpy as np

from common import emit, quick, timeit

SR = 22050
LONG_S = 30.0
TOLERANCE_DB = 1e-3
FLOOR_POWER = 1e-12  # gestures.FLOOR_DB = -120 dB, as power


def main() -> None:
    import librosa  # noqa: F401  (imported before timing: its import is not what we measure)

    from gesturegan import gestures
    from gesturegan.corpus import clip_rng, synthesize

    n = 100 if quick() else 500
    repeat = 3 if quick() else 5
    per_class = n // len(gestures.CATEGORIES)
    clips = [
        synthesize(c, clip_rng(0, c, i), sr=SR)
        for c in gestures.CATEGORIES
        for i in range(per_class)
    ]
    per_long = round(LONG_S * SR / len(clips[0]))
    longs = [np.concatenate(clips[i : i + per_long]) for i in range(0, len(clips), per_long)]
    longs = [x for x in longs if len(x) == per_long * len(clips[0])]

    for x in (clips[0], longs[0]):
        diff = float(np.abs(gestures.envelope(x, SR) - _reference_envelope(x)).max())
        if diff > TOLERANCE_DB:
            raise SystemExit(f"bench_labeler: envelopes differ by {diff:.3g} dB, not comparable")

    for name, waves in (("labeler_envelope_clip", clips), ("labeler_envelope_long", longs)):
        ours = timeit(lambda w=waves: [gestures.envelope(x, SR) for x in w], repeat=repeat)
        ref = timeit(lambda w=waves: [_reference_envelope(x) for x in w], repeat=repeat)
        extra = {}
        if name == "labeler_envelope_clip":
            feats = timeit(lambda: [gestures.features(x, SR) for x in clips], repeat=repeat)
            label = timeit(lambda: [gestures.label(x, SR) for x in clips], repeat=repeat)
            extra = {
                "features_clips_per_s": len(clips) / feats.best,
                "label_clips_per_s": len(clips) / label.best,
            }
        emit(
            name,
            len(waves) / ours.best,
            len(waves) / ref.best,
            "clips/s",
            better="higher",
            n_clips=len(waves),
            clip_s=len(waves[0]) / SR,
            **extra,
        )


def _reference_envelope(wave: np.ndarray) -> np.ndarray:
    """``gestures.envelope`` written with librosa: ``[1 + T // 256]`` dB."""
    import librosa

    x = wave.astype(np.float64)
    x = x - x.mean()
    rms = librosa.feature.rms(
        y=x, frame_length=512, hop_length=256, center=True, pad_mode="constant"
    )
    return 10.0 * np.log10(np.maximum(rms[0] ** 2, FLOOR_POWER))


if __name__ == "__main__":
    main()
