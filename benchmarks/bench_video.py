"""How fast a stimulus video is made: ``survey.video.write_video`` (spectrogram, envelope,
playhead; VP9 + Opus in WebM through PyAV) against the clip's own duration, in the same run.

One line: ``ours`` is the median seconds to write the video of a 3 s clip at 22.05 kHz,
``reference`` the clip's duration (3 s): ``ratio`` above 1 means faster than real time, so a
survey's stimuli are encoded before anyone could watch them. ``one_second_s`` is the same for a
1 s clip, ``bytes_per_s`` the file size per second of video.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from common import emit, load_1m, quick, timeit
from gesturegan.survey.video import write_video

SR = 22050


def clip(seconds: float) -> np.ndarray:
    """A decaying chirp plus a little noise: ``[T]`` float32."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    wave = np.sin(2 * np.pi * 300 * t * (1 + t)) * np.exp(-t) + 0.05 * rng.standard_normal(len(t))
    return (0.4 * wave).astype(np.float32)


def main() -> None:
    repeat = 2 if quick() else 7
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        out = Path(tmp) / "v.webm"
        write_video(out, clip(0.5), SR)  # warm up: librosa's first mel filterbank, codec loading
        three, one = clip(3.0), clip(1.0)
        ours = timeit(lambda: write_video(out, three, SR), repeat=repeat).median
        size = out.stat().st_size
        short = timeit(lambda: write_video(out, one, SR), repeat=repeat).median
    emit(
        "stimulus_video_3s", ours, 3.0, "s", better="lower", one_second_s=short,
        bytes_per_s=size / 3.0, repeat=repeat, load_1m=load_1m(),
    )  # fmt: skip


if __name__ == "__main__":
    main()
