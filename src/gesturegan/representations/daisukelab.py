"""``daisukelab_mel``: the 3-channel uint8 mel images of daisukelab's FAT2019 "prep-mels" data set.

daisukelab's Freesound Audio Tagging 2019 kernels ("CNN 2D Basic Solution Powered by fast.ai" and
the preprocessed mel-spectrogram data set built with it) turned every clip into an image by:

1. ``librosa.feature.melspectrogram(y, sr, n_mels=128, hop_length=347 * duration,
   n_fft=n_mels * 20, fmin=20, fmax=sr // 2)``: Hann window, centred frames, power 2, Slaney mel
   filters with Slaney (area) normalisation; 44.1 kHz, 2 s, so 128 frames;
2. ``librosa.power_to_db(S)``: ``10 log10(max(S, 1e-10))`` re 1.0, then everything more than
   ``top_db = 80`` dB below the clip's maximum raised to that floor;
3. ``mono_to_color``: the dB image stacked three times (R = G = B), standardised by the clip's own
   mean and standard deviation, then stretched so the clip's minimum is 0 and its maximum 255 and
   cast to ``uint8`` (truncating).

Here the recipe is kept except where the shared grid (``base.image_grid``, ``H x W``) forces a
change: ``n_mels = H``, the hop is ``H`` samples (128 at 22050 Hz: 128 frames for the default clip;
the last of the ``W + 1`` centred frames is dropped as in ``logmel_gl``) and
``n_fft = 20 * n_mels`` (2560, 116 ms at 22050 Hz), zero padding at the ends as librosa ≥ 0.10.
Shapes: 16384 samples → 3x128x128, 65536 → 3x256x256, 131072 → 3x256x512, 262144 → 3x256x1024.
The loading steps of the kernel (``librosa.effects.trim`` and centring in a 2 s frame) belong to
``gesturegan prepare`` (``--align``), not to the representation. The image handed to a model is
``uint8 / 127.5 - 1``.

What is lost, and how ``decode`` makes up for it:

- **absolute level**: the per-clip stretch removes it. Decoding scales the waveform so its peak is
  ``peak_db`` dBFS (default -6).
- **dynamic-range scale**: the stretch also removes how many dB the 255 levels span. When the clip's
  range reaches ``top_db`` (anything with a decay into silence), the floor sits exactly 80 dB below
  the maximum, so decoding assumes the 255 levels span ``top_db`` dB; clips with a smaller range
  come back with their contrast stretched.
- **everything more than 80 dB below the maximum** (floored), **quantisation** to 256 levels
  (0.31 dB steps over 80 dB), **detail finer than a mel band**, content **below 20 Hz**, and
  **phase**. Decoding maps bands back to STFT bins with the filterbank's pseudo-inverse (clipped at
  0) and builds a phase with PGHI. ``n_iter`` fast Griffin-Lim iterations may follow, but default
  to 0: with 10 STFT bins per mel band the decoded magnitude is far from any consistent one, and
  Griffin-Lim moves the result further from the original (spectral convergence 0.545 → 0.55-0.58
  after 4-16 iterations, 16 corpus clips) at 10x the decoding time.
- The three channels carry one image; decoding averages them (a model may draw them unequal).
"""

from __future__ import annotations

import torch

from .base import Representation, image_grid, register
from .pghi import UNTRACEABLE
from .phase import pghi_griffin_lim
from .spectral import STFT, mel_filters, pad_last_frame

TOP_DB = 80.0
AMIN = 1e-10


@register
class DaisukelabMel(Representation):
    """FAT2019 prep-mels images (3 identical uint8 channels of a per-clip stretched log-mel)."""

    name = "daisukelab_mel"
    floor_is_silence = True
    description = (
        "FAT2019 prep-mels: per-clip stretched uint8 log-mel x 3 channels; level lost; PGHI"
    )
    untraceable = UNTRACEABLE

    def __init__(
        self,
        sr: int,
        length: int,
        n_iter: int = 0,
        momentum: float = 0.99,
        peak_db: float = -6.0,
        range_db: float = TOP_DB,
    ) -> None:
        super().__init__(
            sr, length, n_iter=n_iter, momentum=momentum, peak_db=peak_db, range_db=range_db
        )
        self.n_mels, self.frames = image_grid(length)
        self.stft = STFT(n_fft=20 * self.n_mels, hop=self.n_mels, length=length, pad_mode="constant")
        # [n_mels, n_bins], Slaney-normalised (librosa's default), and its pseudo-inverse
        self.mel_basis, self.mel_inverse = mel_filters(
            sr, self.stft.n_fft, self.n_mels, 20.0, float(sr // 2), "slaney"
        )
        self.n_iter, self.momentum = int(n_iter), float(momentum)
        self.peak_db, self.range_db = float(peak_db), float(range_db)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self.n_mels, self.frames)

    def to_uint8(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → the data set's images ``[B, 3, n_mels, W]`` uint8 (row 0 = lowest band)."""
        spec = self.stft.forward(self._batch(wave))[..., : self.frames] * self.stft.scale
        power = spec.real**2 + spec.imag**2  # librosa's unscaled |X|²
        db = 10 * torch.log10((self.mel_basis.to(power.device) @ power).clamp_min(AMIN))
        db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - TOP_DB)
        # mono_to_color, step by step as the kernel (standardise, then stretch to 0..255, truncate).
        x = db - db.mean(dim=(1, 2), keepdim=True)
        x = x / (x.std(dim=(1, 2), keepdim=True, correction=0) + 1e-6)
        lo, hi = x.amin(dim=(1, 2), keepdim=True), x.amax(dim=(1, 2), keepdim=True)
        v = torch.where(hi - lo > 1e-6, 255 * (x - lo) / (hi - lo), 0.0).to(torch.uint8)
        return v[:, None].expand(-1, 3, -1, -1)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self.to_uint8(wave).float() / 127.5 - 1

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        levels = ((self._images(image).mean(dim=1) + 1) * 127.5).clamp(0, 255)  # [B, M, N]
        lo = levels.amin(dim=(1, 2), keepdim=True)
        hi = levels.amax(dim=(1, 2), keepdim=True)
        span = (hi - lo).clamp_min(1e-6)
        db = (levels - hi) / span * self.range_db  # 0 dB at the clip's maximum
        mel = torch.where(levels <= lo + 1e-3, 0.0, 10 ** (db / 10))  # the floor decodes to 0
        power = (self.mel_inverse.to(mel.device) @ mel).clamp_min(0)
        frames = pad_last_frame(power.sqrt()).transpose(1, 2)  # [B, N + 1, K]
        wave = pghi_griffin_lim(frames, self.stft, self.n_iter, self.momentum, heap=True)
        peak = wave.abs().amax(dim=1, keepdim=True)
        flat = (hi - lo)[:, 0, :] < 1  # a constant image: nothing to hear
        gain = torch.where(
            flat | (peak == 0), 0.0, 10 ** (self.peak_db / 20) / peak.clamp_min(1e-12)
        )
        return wave * gain
