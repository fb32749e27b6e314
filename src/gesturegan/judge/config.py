"""Settings of the judge, one dataclass: analysis rate, spectral frames, random nets, rounds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import UserError

SPACES = ("features", "randnet", "sfx")
"""Embedding spaces: weight-free features, random conv nets, the optional aisfx embedding."""
MIXES = ("matched", "uniform")
"""How the overall figures draw B's clips (``JudgeConfig.mix``)."""


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge reads and embeds clips and how it draws its comparisons.

    Attributes
    ----------
    sr : analysis rate in Hz; every clip is resampled to it (soxr), so sets at different rates
        compare fairly and figures at one ``sr`` compare across datasets. At the default 22050 Hz
        what lies above 11.025 kHz is not judged.
    max_s : seconds read from the start of each file (longer files are cut).
    n_fft, hop : STFT frame and hop in samples at ``sr``.
    floor_db : the level the judge hears nothing under, in dB re a full-scale sine: every STFT
        magnitude is raised to a sine's at this level before any spectral feature, so content
        under it (the quantisation noise of a 16-bit file, a decoder's exact zeros) reads alike.
        -96: the quietest level 16-bit audio holds. None: no floor (the judge before 6 December
        2026, whose log-mel floor lay 148 dB under a full-scale sine).
    n_mels : mel bands of the log-mel statistics and the random nets' input.
    n_mfcc : MFCCs (their deltas are added).
    net_seeds : one random network per seed; figures are averaged over them.
    rounds : random half splits of the reference set (the interval is taken over them).
    interval : central share of the rounds reported as the interval (0.9: 5th to 95th percentile).
    k : neighbours for precision / recall / density / coverage.
    seed : seeds the splits, the subsets and the noise set.
    mix : how the overall figures draw B: ``"matched"``, class by class in the mix of A's held-out
        half when B has every class of it (``compare``); ``"uniform"``, whatever B's mix (the
        judge before 6 December 2026).
    spaces : which embedding spaces to use (``SPACES``); ``sfx`` needs the aisfx weights.
    """

    sr: int = 22050
    max_s: float = 30.0
    n_fft: int = 1024
    hop: int = 256
    floor_db: float | None = -96.0
    n_mels: int = 64
    n_mfcc: int = 20
    net_seeds: tuple[int, ...] = (0, 1, 2)
    rounds: int = 20
    interval: float = 0.9
    k: int = 5
    seed: int = 0
    mix: str = "matched"
    spaces: tuple[str, ...] = field(default=("features", "randnet"))

    def __post_init__(self) -> None:
        if not 8000 <= self.sr <= 192000:
            raise UserError(f"judge: the analysis rate must be 8000 to 192000 Hz, got {self.sr}")
        unknown = [s for s in self.spaces if s not in SPACES]
        if unknown or not self.spaces:
            raise UserError(f"unknown judge space(s) {unknown}; choose from {', '.join(SPACES)}")
        if self.mix not in MIXES:
            raise UserError(f"judge: mix must be one of {', '.join(MIXES)}, got {self.mix!r}")
        if self.floor_db is not None and not -200 <= self.floor_db < 0:
            raise UserError(f"judge: floor_db must be from -200 up to 0 dB, got {self.floor_db}")
        if self.rounds < 1 or not 0 < self.interval < 1 or self.k < 1 or not self.net_seeds:
            raise UserError("judge: rounds, k and net seeds must be positive, interval in (0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)
