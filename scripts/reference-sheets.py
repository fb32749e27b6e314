"""Contact sheets for hand-labelling a sample library (docs/gestures.md, "The reference").

    python scripts/reference-sheets.py SOUNDS_ROOT LIBRARY OUT_DIR [--per-sheet 20]

Every audio file under SOUNDS_ROOT/LIBRARY, found and sorted as ``prepare`` finds them (links
followed), is drawn in two panels: its RMS envelope in dB re its peak over the whole file (lines at
-20 and -40 dB), and a 48-band log-mel spectrogram. Each file keeps its own rate; channels are
mixed. The sheets show no labeler's verdict, so a person labels blind. Writes
OUT_DIR/LIBRARY-NN.png and OUT_DIR/LIBRARY-files.txt (sheet, cell, file, seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import librosa
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gesturegan import atomic, audio  # noqa: E402
from gesturegan.dataset.scan import scan  # noqa: E402
from gesturegan.errors import UserError  # noqa: E402

HOP_S = 0.005


def envelope_db(wave: np.ndarray, hop: int) -> np.ndarray:
    """RMS per ``hop`` samples (a window of four hops) in dB re the loudest frame, floored at
    -70 dB."""
    rms = librosa.feature.rms(y=wave, frame_length=4 * hop, hop_length=hop, center=True)[0]
    return np.maximum(20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10)), -70.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("library")
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-sheet", type=int, default=20)
    args = ap.parse_args()
    base = args.root / args.library
    files = [base / rel for rel in scan(base).audio]  # sorted, links followed, as `prepare` walks
    args.out.mkdir(parents=True, exist_ok=True)
    listing = []
    cols = 4
    for sheet, start in enumerate(range(0, len(files), args.per_sheet)):
        chunk = files[start : start + args.per_sheet]
        rows = -(-len(chunk) // cols)
        fig, axes = plt.subplots(2 * rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for i, path in enumerate(chunk):
            name = str(path.relative_to(args.root))
            env_ax, mel_ax = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
            try:
                wave, sr = audio.load(path)
            except UserError as exc:
                env_ax.set_axis_on()
                env_ax.set_title(f"{i}: {name}\n{exc}"[:80], fontsize=7)
                listing.append(f"{sheet}\t{i}\t{name}\tunreadable")
                continue
            seconds = len(wave) / sr
            listing.append(f"{sheet}\t{i}\t{name}\t{seconds:.3f}")
            hop = max(1, round(HOP_S * sr))
            env = envelope_db(wave, hop)
            t = np.arange(len(env)) * hop / sr
            env_ax.set_axis_on()
            env_ax.plot(t, env, lw=0.8)
            for level in (-20, -40):
                env_ax.axhline(level, color="grey", lw=0.5, ls="--")
            env_ax.set_ylim(-72, 3)
            env_ax.set_xlim(0, max(seconds, HOP_S))
            env_ax.tick_params(labelsize=6)
            env_ax.set_title(f"{i}: {name[-48:]}  ({seconds:.2f} s, {sr} Hz)", fontsize=7)
            mel = librosa.feature.melspectrogram(
                y=wave, sr=sr, n_fft=2048, hop_length=hop, n_mels=48
            )
            mel_ax.set_axis_on()
            mel_ax.imshow(
                librosa.power_to_db(mel, ref=np.max, top_db=80),
                origin="lower",
                aspect="auto",
                extent=(0, max(seconds, HOP_S), 0, 48),
                cmap="magma",
            )
            mel_ax.tick_params(labelsize=6)
        fig.tight_layout()
        with atomic.atomic_path(args.out / f"{args.library}-{sheet:02d}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=72)
        plt.close(fig)
    atomic.write_text(args.out / f"{args.library}-files.txt", "\n".join(listing) + "\n")
    print(f"{len(files)} files, {-(-len(files) // args.per_sheet)} sheets in {args.out}")


if __name__ == "__main__":
    main()
