"""Representations: shapes, exactness where promised, round-trip quality, determinism, bad input."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from gesturegan import representations
from gesturegan.errors import UserError
from gesturegan.representations import quality

from .conftest import LENGTH, SR


def _clips(n: int = 4, length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    """Decaying partials and a noise burst: [n, length] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    waves = []
    for i in range(n):
        f = rng.uniform(100, 3000)
        tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 5)) * np.exp(-t / 0.2)
        if i % 2:
            tone = tone + rng.standard_normal(length) * np.exp(-t / 0.05)
        waves.append(0.5 * tone / np.abs(tone).max())
    return torch.from_numpy(np.stack(waves).astype(np.float32))


def test_registry_lists_and_builds_every_name():
    assert {"waveform", "wave_image", "logmel_gl"} <= set(representations.names())
    assert set(representations.describe()) == set(representations.names())
    with pytest.raises(UserError, match="unknown representation 'nope'"):
        representations.get("nope")
    with pytest.raises(UserError, match="bad option"):
        representations.get("logmel_gl", colour="red")


@pytest.mark.parametrize("name", ["wave_image", "logmel_gl"])
def test_image_shapes_scale_with_clip_length(name):
    assert representations.get(name, sr=SR, length=16384).shape[1:] == (128, 128)
    assert representations.get(name, sr=SR, length=65536).shape[1:] == (256, 256)
    with pytest.raises(UserError, match="not a square"):
        representations.get(name, sr=SR, length=16000)


@pytest.mark.parametrize("name", ["waveform", "wave_image"])
def test_sample_representations_are_exact(name):
    rep = representations.get(name, sr=SR, length=LENGTH)
    waves = _clips()
    images = rep.encode(waves)
    assert images.shape == (4, *rep.shape)
    assert torch.equal(rep.decode(images), waves)


def test_wave_image_rows_are_consecutive_samples():
    rep = representations.get("wave_image", sr=SR, length=LENGTH)
    ramp = torch.arange(LENGTH, dtype=torch.float32)[None] / LENGTH
    image = rep.encode(ramp)[0, 0]
    assert image[0, 1] == ramp[0, 1] and image[1, 0] == ramp[0, 128]


def test_logmel_range_and_orientation():
    rep = representations.get("logmel_gl", sr=SR, length=LENGTH)
    t = torch.arange(LENGTH) / SR
    low, high = torch.sin(2 * torch.pi * 200 * t), torch.sin(2 * torch.pi * 6000 * t)
    images = rep.encode(torch.stack([low, high, torch.zeros(LENGTH)]))
    assert images.min() >= -1 and images.max() <= 1
    band_low = images[0, 0].mean(dim=1).argmax()
    band_high = images[1, 0].mean(dim=1).argmax()
    assert band_low < 20 < band_high  # row 0 is the lowest band
    assert torch.all(images[2] == -1)  # silence is the floor
    # A full-scale sine reads about 0 dB: (0 - min_db) / (max_db - min_db) * 2 - 1 = 0.8.
    assert images[0, 0, band_low].mean() == pytest.approx(0.8, abs=0.05)


def test_logmel_round_trip_quality_and_determinism():
    rep = representations.get("logmel_gl", sr=SR, length=LENGTH)
    waves = _clips()
    decoded = rep.decode(rep.encode(waves))
    assert decoded.shape == waves.shape and torch.isfinite(decoded).all()
    sc = quality.spectral_convergence(waves, decoded)
    lsd = quality.log_spectral_distance(waves, decoded)
    # The reference: librosa's mel inversion (NNLS + 32 fast Griffin-Lim iterations), same analysis.
    reference = np.stack([_librosa_mel_round_trip(x) for x in waves.numpy()])
    sc_ref = quality.spectral_convergence(waves, reference)
    lsd_ref = quality.log_spectral_distance(waves, reference)
    assert np.all(sc <= sc_ref + 0.02) and np.all(lsd <= lsd_ref + 0.2), (sc, sc_ref, lsd, lsd_ref)
    assert sc.mean() < 0.35
    # More Griffin-Lim iterations never make it worse on average.
    few = representations.get("logmel_gl", sr=SR, length=LENGTH, n_iter=4)
    sc_few = quality.spectral_convergence(waves, few.decode(few.encode(waves)))
    assert sc.mean() < sc_few.mean()
    # Deterministic, and the same clip decodes the same alone or in a batch.
    assert torch.equal(rep.decode(rep.encode(waves)), decoded)
    alone = rep.decode(rep.encode(waves[2:3]))
    assert quality.snr_db(decoded[2:3], alone)[0] > 60


def _librosa_mel_round_trip(wave: np.ndarray) -> np.ndarray:
    kw = {"sr": SR, "n_fft": 1024, "hop_length": 128, "power": 1.0}
    mel = librosa.feature.melspectrogram(y=wave, n_mels=128, **kw)
    return librosa.feature.inverse.mel_to_audio(mel, n_iter=32, length=len(wave), **kw)


def test_bad_shapes_are_user_errors():
    rep = representations.get("logmel_gl", sr=SR, length=LENGTH)
    with pytest.raises(UserError, match=r"expected waves of shape \[B, 16384\]"):
        rep.encode(torch.zeros(2, 1000))
    with pytest.raises(UserError, match=r"expected images of shape \[B, 1, 128, 128\]"):
        rep.decode(torch.zeros(2, 3, 128, 128))
    with pytest.raises(UserError, match="sample rate"):
        representations.get("waveform", sr=0)


def test_quality_measures_on_known_signals():
    waves = _clips(2).double()
    noise = torch.from_numpy(np.random.default_rng(1).standard_normal(waves.shape))
    noise = noise / noise.pow(2).mean(dim=1, keepdim=True).sqrt()
    scaled = noise * waves.pow(2).mean(dim=1, keepdim=True).sqrt() * 0.1  # 20 dB below
    assert quality.snr_db(waves, waves + scaled) == pytest.approx([20.0, 20.0], abs=0.01)
    assert np.all(quality.spectral_convergence(waves, waves) < 1e-9)
    assert np.all(quality.log_spectral_distance(waves, waves) < 1e-6)
    # Halving the level is a 6.02 dB log-spectral distance, and phase-blind measures ignore sign.
    assert quality.log_spectral_distance(noise, noise / 2) == pytest.approx([6.02, 6.02], abs=0.01)
    assert np.all(quality.spectral_convergence(waves, -waves) < 1e-9)
    with pytest.raises(ValueError, match="shapes differ"):
        quality.snr_db(waves, waves[:, :100])
