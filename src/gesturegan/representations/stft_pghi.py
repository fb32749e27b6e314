"""``stft_pghi``: STFT log-magnitude on a linear frequency axis, phase rebuilt (TiFGAN).

Marafioti et al. (TiFGAN, ICML 2019) drew only the log-magnitude of a redundant STFT and rebuilt
the phase with PGHI; the redundancy is what makes the phase recoverable from the magnitude. This
is their representation at our rates, one channel, frequency x time.

Grid (chosen for 44.1 kHz; ``benchmarks/bench_phase.py``, docs/representations.md):

- ``n_fft``: the power of two nearest to 23 ms, ``2 ** round(log2(0.0232 * sr))``: 1024 at 44.1
  and 48 kHz (23.2 / 21.3 ms, bins 43 / 47 Hz apart), 512 at 22.05 kHz. TiFGAN's window was
  32 ms (512 at 16 kHz); on real sounds at 44.1 kHz a 512-point window (11.6 ms) came back 8 dB
  worse in spectral convergence after the same decoding (low partials are not resolved, so their
  phase cannot be predicted from the magnitude), a 2048-point one 7 dB worse (onsets smear).
- ``hop = n_fft // 4``: TiFGAN's redundancy of 4, the least at which PGHI works well (hop
  ``n_fft // 8`` decodes ~1.5 dB better but doubles the image).
- ``H = n_fft // 2`` rows: bins 0 … ``n_fft / 2 - 1`` (the Nyquist bin is dropped so ``H`` is a
  power of two; it decodes as 0).
- Bin 0, the DC bin, is drawn but decodes as 0 too: a generator's bottom image border is its
  weakest row, and kept bright it decoded to a DC offset (mean |DC| 0.13 in the triggers of a
  30-minute lmms run of the study, whose real clips have 0.005), which held the clips 30 dB above
  their real tails. Silencing it costs real clips almost nothing: their round trip's decoder
  floor (docs/study.md) went from 1.89 to 1.91 on 160 hydrogen training clips and from 1.01 to
  1.03 on lmms's.
- ``W = length // hop`` columns, frame ``n`` centred on sample ``n * hop`` (reflect padding); the
  ``W + 1``-th centred frame, on the clip's last sample, is dropped and decoded as a copy of the
  last kept one, as in ``logmel_gl`` (that costs 0.8 dB of spectral convergence on 1.5 s clips;
  frames placed symmetrically, none past the end, cost 3 dB, and leaving the copied frame free
  during Griffin-Lim 1.3 dB).
  At 44.1 kHz: 65536 samples → 1x512x256, 131072 → 1x512x512, 262144 → 1x512x1024; at
  22.05 kHz 16384 → 1x256x128 (TiFGAN's image).
- Values: ``20 log10 |X|`` (a full-scale sine ≈ 0 dB) clipped to ``[min_db, max_db]`` =
  [-100, +10] dB and mapped to [-1, 1], as ``stft_ifreq``'s channel 0: 16-bit audio's floor
  (-96 dB) fits, and the floor decodes to exact zeros.

Decoding: ``phase.pghi_griffin_lim``: frame-recursive PGHI in torch on the image's device, then
``n_iter`` (default 32) fast Griffin-Lim iterations with momentum 0.99. Plain torch throughout,
so a model trained on it can be exported. What is lost: the phase (rebuilt up to Griffin-Lim's
consistency: spectral convergence -25 dB, mean over 29 real clips at 44.1 kHz), content below
``min_db``, the DC and Nyquist bins.
"""

from __future__ import annotations

import math

import torch

from ..errors import UserError
from .base import Representation, register
from .phase import pghi_griffin_lim
from .spectral import STFT, pad_last_frame
from .stft_ifreq import from_db_image, to_db_image

WINDOW_S = 0.0232
"""The window the FFT size is chosen for, in seconds (1024 samples at 44.1 kHz)."""


def default_n_fft(sr: int) -> int:
    """The power of two nearest to ``WINDOW_S`` seconds at ``sr`` Hz (1024 at 44.1 kHz)."""
    return 2 ** round(math.log2(WINDOW_S * sr))


@register
class STFTPGHI(Representation):
    """Linear-frequency STFT log-magnitude (1 channel), phase by PGHI + fast Griffin-Lim."""

    name = "stft_pghi"
    floor_is_silence = True
    description = (
        "linear-frequency STFT log-magnitude (TiFGAN), 1 channel; PGHI + 32 fast GL iterations"
    )

    def __init__(
        self,
        sr: int,
        length: int,
        n_fft: int = 0,
        n_iter: int = 32,
        momentum: float = 0.99,
        min_db: float = -100.0,
        max_db: float = 10.0,
    ) -> None:
        super().__init__(
            sr, length, n_fft=n_fft, n_iter=n_iter, momentum=momentum, min_db=min_db, max_db=max_db
        )
        n_fft = int(n_fft) or default_n_fft(self.sr)
        hop = n_fft // 4
        frames = self.length // hop
        if (
            n_fft < 16
            or n_fft & (n_fft - 1)
            or frames < 4
            or frames * hop != self.length
            or frames & (frames - 1)
        ):
            raise UserError(
                f"stft_pghi: n_fft {n_fft} does not fit {self.length} samples (n_fft must be a "
                "power of two from 16 up, and the clip at least 4 hops of n_fft / 4 and a power of two)"
            )
        self.stft = STFT(n_fft=n_fft, hop=hop, length=self.length)
        self.bins, self.frames = n_fft // 2, frames
        self.n_iter, self.momentum = int(n_iter), float(momentum)
        self.min_db, self.max_db = float(min_db), float(max_db)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.bins, self.frames)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.stft.forward(self._batch(wave))[:, : self.bins, : self.frames]
        db = 20 * torch.log10(spec.abs().clamp_min(1e-12))
        return to_db_image(db, self.min_db, self.max_db)[:, None]

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        magnitude = from_db_image(self._images(image)[:, 0], self.min_db, self.max_db)  # [B, H, W]
        silent = torch.zeros_like(magnitude[:, :1])
        # Bin 0 (DC) decodes as silence, as the Nyquist bin does (see the module docstring).
        magnitude = torch.cat([silent, magnitude[:, 1:], silent], dim=1)  # [B, H + 1, W]
        magnitude = pad_last_frame(magnitude)  # [B, H + 1, W + 1]
        return pghi_griffin_lim(magnitude.transpose(1, 2), self.stft, self.n_iter, self.momentum)
