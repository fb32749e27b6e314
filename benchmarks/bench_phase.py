"""Phase reconstruction: our batched fast Griffin-Lim and PGHI against ``librosa.griffinlim``.

One run, one set of spectrograms: 32 default clips (0.74 s at 22050 Hz; 8 per gesture category of
the built-in corpus), STFT magnitudes with ``n_fft = 1024``, ``hop = 128`` (periodic Hann, centred
frames, reflect padding: the analysis of ``logmel_gl`` / ``logmel_pghi``). Every method gets the
same magnitudes and returns waveforms; spectral convergence (``quality.spectral_convergence``,
0 is perfect, its own 1024/256 STFT) is measured on those waveforms against the original clips.

- ``phase_griffin_lim``: ``spectral.griffin_lim`` on the whole batch (torch, default threads) vs
  ``librosa.griffinlim`` clip by clip, both fast Griffin-Lim with momentum 0.99 from a random
  phase, ``N_ITER`` iterations each. Target (issue 5): ratio ≥ 5 at equal or lower spectral
  convergence (``sc_ok``).
- ``phase_pghi``: ``pghi.pghi_frames`` + the inverse STFT on the batch vs the same
  ``librosa.griffinlim`` run with ``N_ITER`` = 32 iterations. Target: ratio ≥ 50, with both spectral
  convergences beside; ``pghi_gl4_*`` adds PGHI followed by 4 of our Griffin-Lim iterations.

Times are the best of 7 runs (the reference, being slow, of 2); the numba loop of PGHI is
compiled (or loaded from its cache) before timing. Ours uses the machine's threads by default
(torch and numba); ``ours_1_thread`` / ``ratio_1_thread`` repeat it on one thread, as librosa runs.
"""

from __future__ import annotations

import numpy as np

from common import emit, load_1m, quick, timeit

SR = 22050
LENGTH = 16384
N_FFT, HOP = 1024, 128
N_ITER = 32
PER_CLASS = 8  # 32 clips


def main() -> None:
    import librosa
    import numba
    import torch

    from gesturegan.corpus import clip_rng, synthesize
    from gesturegan.gestures import CATEGORIES
    from gesturegan.representations import quality
    from gesturegan.representations.pghi import pghi_frames
    from gesturegan.representations.spectral import STFT, griffin_lim, griffin_lim_frames

    repeat, repeat_ref = (3, 1) if quick() else (7, 2)
    clips = np.stack(
        [synthesize(c, clip_rng(0, c, i)) for c in CATEGORIES for i in range(PER_CLASS)]
    )
    waves = torch.from_numpy(clips)
    stft = STFT(N_FFT, HOP, LENGTH)
    magnitude = stft.forward(waves).abs()  # [32, 513, 129], scaled: full-scale sine = 1
    unscaled = (magnitude * stft.scale).numpy()  # the same magnitudes in librosa's scaling
    load = load_1m()

    def ours_gl():
        return griffin_lim(magnitude, stft, n_iter=N_ITER)

    def reference_gl():
        return np.stack(
            [
                librosa.griffinlim(
                    m, n_iter=N_ITER, hop_length=HOP, n_fft=N_FFT, length=LENGTH,
                    pad_mode="reflect", random_state=0,
                )
                for m in unscaled
            ]
        )  # fmt: skip

    frames = magnitude.transpose(1, 2).contiguous()  # [B, frames, bins]: STFT.analyse's layout

    def ours_pghi():  # PGHI, then the inverse STFT (n_iter=0)
        return griffin_lim_frames(frames, pghi_frames(frames, N_FFT, HOP), stft, 0)

    def ours_pghi_gl4():
        return griffin_lim_frames(frames, pghi_frames(frames, N_FFT, HOP), stft, 4)

    ours_pghi()  # compile (or load) the numba loop outside the timings
    results = {}
    for name, fn in (("gl", ours_gl), ("pghi", ours_pghi), ("pghi_gl4", ours_pghi_gl4)):
        results[name] = fn()
    results["reference"] = reference_gl()
    sc = {k: float(quality.spectral_convergence(clips, v).mean()) for k, v in results.items()}

    t_ref = timeit(reference_gl, repeat=repeat_ref)
    t_gl = timeit(ours_gl, repeat=repeat)
    t_pghi = timeit(ours_pghi, repeat=repeat)
    t_pghi_gl4 = timeit(ours_pghi_gl4, repeat=repeat)
    threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    t_gl_1 = timeit(ours_gl, repeat=repeat)
    t_pghi_1 = timeit(ours_pghi, repeat=repeat)
    torch.set_num_threads(threads)
    numba.set_num_threads(numba_threads)

    common = {
        "n_clips": len(clips),
        "clip_s": LENGTH / SR,
        "n_fft": N_FFT,
        "hop": HOP,
        "torch_threads": threads,
        "numba_threads": numba_threads,
        "load_1m_at_start": load,
    }
    emit(
        "phase_griffin_lim",
        t_gl.best,
        t_ref.best,
        "s",
        better="lower",
        n_iter=N_ITER,
        sc_ours=sc["gl"],
        sc_reference=sc["reference"],
        sc_ok=sc["gl"] <= sc["reference"],
        ours_median=t_gl.median,
        ours_1_thread=t_gl_1.best,
        ratio_1_thread=t_ref.best / t_gl_1.best,
        target_ratio=5,
        **common,
    )
    emit(
        "phase_pghi",
        t_pghi.best,
        t_ref.best,
        "s",
        better="lower",
        reference_n_iter=N_ITER,
        sc_ours=sc["pghi"],
        sc_reference=sc["reference"],
        pghi_gl4_s=t_pghi_gl4.best,
        pghi_gl4_ratio=t_ref.best / t_pghi_gl4.best,
        pghi_gl4_sc=sc["pghi_gl4"],
        ours_median=t_pghi.median,
        ours_1_thread=t_pghi_1.best,
        ratio_1_thread=t_ref.best / t_pghi_1.best,
        target_ratio=50,
        **common,
    )


if __name__ == "__main__":
    main()
