"""``logmel_gl``: log-mel magnitude image, inverted by batched fast Griffin-Lim.

Encoding (default clip, 22050 Hz, 16384 samples → 1x128x128): STFT with ``n_fft = 1024``,
``hop = 128`` (Hann), magnitude scaled so a full-scale sine reads 0 dB, a mel filterbank of ``side``
bands (Slaney scale, peak-1 triangles so levels stay in dB re full scale), then
``20 log10(mel)`` clipped to ``[min_db, max_db]`` and mapped linearly to [-1, 1]. Row 0 is the
lowest band, column ``k`` the frame centred on sample ``k * hop``.

Decoding undoes the scaling, maps mel bands back to STFT bins with the filterbank's pseudo-inverse
(clamped at 0), and recovers a phase with fast Griffin-Lim from a seeded random start, so the
result is deterministic. What is lost: phase (recovered up to GL's consistency), detail finer than
a mel band, and anything below ``min_db``.
"""

from __future__ import annotations

import torch

from .base import Representation, image_grid, register
from .spectral import STFT, griffin_lim, mel_filters, pad_last_frame


class LogMel:
    """The log-mel analysis shared by the mel representations: wave ↔ normalised dB image."""

    def __init__(self, sr: int, length: int, min_db: float = -90.0, max_db: float = 10.0) -> None:
        self.bands, self.frames = image_grid(length)  # H, W
        hop = self.bands
        self.stft = STFT(n_fft=8 * hop, hop=hop, length=length)
        # [bands, n_bins] and its pseudo-inverse [n_bins, bands]
        self.mel_basis, self.mel_inverse = mel_filters(
            sr, self.stft.n_fft, self.bands, 0.0, sr / 2, None
        )
        self.min_db = float(min_db)
        self.max_db = float(max_db)

    def magnitude_to_image(self, magnitude: torch.Tensor) -> torch.Tensor:
        """``[B, n_bins, W + 1]`` STFT magnitude → ``[B, H, W]`` in [-1, 1]."""
        mel = self.mel_basis.to(magnitude.device) @ magnitude[..., : self.frames]
        db = (20 * torch.log10(mel.clamp_min(1e-10))).clamp(self.min_db, self.max_db)
        return 2 * (db - self.min_db) / (self.max_db - self.min_db) - 1

    def image_to_magnitude(self, image: torch.Tensor) -> torch.Tensor:
        """``[B, H, W]`` → STFT magnitude ``[B, n_bins, W + 1]`` (pseudo-inverse, ≥ 0)."""
        db = (image.clamp(-1, 1) + 1) / 2 * (self.max_db - self.min_db) + self.min_db
        mel = torch.where(db <= self.min_db + 1e-3, 0.0, 10 ** (db / 20))
        magnitude = (self.mel_inverse.to(mel.device) @ mel).clamp_min(0)
        return pad_last_frame(magnitude)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → ``[B, H, W]`` in [-1, 1]."""
        return self.magnitude_to_image(self.stft.forward(wave).abs())


@register
class LogMelGL(Representation):
    """Log-mel magnitude (1 channel), phase by fast Griffin-Lim with momentum."""

    name = "logmel_gl"
    description = (
        "log-mel magnitude, 1 channel; decoded with batched fast Griffin-Lim (momentum 0.99)"
    )

    def __init__(
        self,
        sr: int,
        length: int,
        n_iter: int = 32,
        momentum: float = 0.99,
        min_db: float = -90.0,
        max_db: float = 10.0,
    ) -> None:
        super().__init__(sr, length, n_iter=n_iter, momentum=momentum, min_db=min_db, max_db=max_db)
        self.mel = LogMel(sr, length, min_db, max_db)
        self.n_iter = int(n_iter)
        self.momentum = float(momentum)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.mel.bands, self.mel.frames)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self.mel.encode(self._batch(wave))[:, None]

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        magnitude = self.mel.image_to_magnitude(self._images(image)[:, 0])
        return griffin_lim(magnitude, self.mel.stft, self.n_iter, self.momentum)
