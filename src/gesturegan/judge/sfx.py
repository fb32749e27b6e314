"""The optional sound-effects embedding: the weights of the ``aisfx`` package (Ma & Lerch, ISMIR
2022), a CNN trained on professional SFX libraries, run with our own feature code.

``aisfx`` pins numpy 1.23 and librosa 0.9.2 and imports tqdm, so it is installed without its
dependencies (``pip install --no-deps aisfx==0.1.2``) and never imported: only its checkpoint file
is read (``torch.load(weights_only=True)``, with the one numpy global it pickles allowed). The
network and the input features (96-band HTK log-mel at 44.1 kHz, frames of 2048 every 1024
samples, ``log10(10000 · mel + 1)`` scaled by the package's normaliser) are rewritten here after the
package's own code. A clip's embedding (512-d) is the mean over blocks of 100 frames (2.3 s; shorter
clips are zero-padded to one block, as the package does). The judge hands it its clips at the
judge's rate (22.05 kHz by default), so it sees nothing above 11 kHz; set ``JudgeConfig.sr`` to
44100 to give it the full band.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import librosa
import numpy as np
import torch
from torch import nn

from .. import audio
from ..errors import UserError

SR = 44100
N_FFT, HOP, N_MELS = 2048, 1024, 96
BLOCK, BLOCK_HOP = 100, 50
SPEC_MAX = 9.457798957824707
"""The package's 'original' min-max normaliser of its log spectrogram (min 0)."""

INSTALL = "pip install --no-deps aisfx==0.1.2"


def checkpoint_path() -> Path | None:
    """Where the installed ``aisfx`` keeps its weights, or None when it is not installed."""
    spec = importlib.util.find_spec("aisfx")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "checkpoint.pth"
    return path if path.is_file() else None


def available() -> bool:
    """True when the aisfx weights can be read."""
    return checkpoint_path() is not None


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return nn.functional.max_pool2d(x, pool) if pool > 1 else x


class SfxNet(nn.Module):
    """aisfx's ``EmbeddingNet`` (max pooling, 64/128/256/512 channels): ``[B, frames, 96] -> [B, 512]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_block1, self.conv_block2 = _Block(1, 64), _Block(64, 128)
        self.conv_block3, self.conv_block4 = _Block(128, 256), _Block(256, 512)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = spec[:, None]
        for block, pool in ((self.conv_block1, 2), (self.conv_block2, 2), (self.conv_block3, 2),
                            (self.conv_block4, 1)):  # fmt: skip
            x = block(x, pool)
        return x.mean(dim=3).amax(dim=2)


def load_net() -> SfxNet:
    """The aisfx embedding network with its trained weights, in eval mode.

    Raises
    ------
    UserError : aisfx is not installed, or its checkpoint does not fit the network.
    """
    path = checkpoint_path()
    if path is None:
        raise UserError(f"the sfx embedding needs the aisfx weights: {INSTALL}")
    from numpy._core.multiarray import scalar

    allowed = [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
    try:
        with torch.serialization.safe_globals(allowed):
            weights, _ = torch.load(path, map_location="cpu", weights_only=True)
        net = SfxNet()
        prefix = "embedding_net."
        net.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
    except Exception as exc:  # a damaged or different checkpoint: say which file
        raise UserError(f"{path}: not the aisfx 0.1.2 checkpoint ({exc})") from exc
    return net.requires_grad_(False).eval()


def features(wave: np.ndarray, sr: int) -> np.ndarray:
    """aisfx's input of one clip ``[T]`` at ``sr`` Hz: ``[frames, 96] float32`` in about [0, 1].

    Resampled to 44.1 kHz and peak-normalised, as the package does before its spectrogram.
    """
    x = audio.resample(np.asarray(wave, np.float32), sr, SR)
    x = x / max(float(np.abs(x).max()), 1e-9)
    x = np.pad(x, (0, max(0, N_FFT - len(x))))  # at least one frame
    mel = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, fmin=0.0, fmax=SR / 2,
        htk=True, norm=1.0, power=2.0,
    )  # fmt: skip
    return (np.log10(mel * 10000.0 + 1.0) / SPEC_MAX).T.astype(np.float32)


@torch.inference_mode()
def embed(net: SfxNet, waves: list[np.ndarray], sr: int) -> np.ndarray:
    """``[N, 512] float64`` embeddings of clips ``waves`` at ``sr`` Hz (mean over 100-frame blocks)."""
    out = []
    for wave in waves:
        spec = features(wave, sr)
        starts = range(0, max(len(spec) - BLOCK, 0) + 1, BLOCK_HOP)
        blocks = np.stack([_padded(spec[s : s + BLOCK]) for s in starts])
        out.append(net(torch.from_numpy(blocks)).double().mean(dim=0).numpy())
    return np.stack(out)


def _padded(spec: np.ndarray) -> np.ndarray:
    return np.pad(spec, ((0, BLOCK - len(spec)), (0, 0))) if len(spec) < BLOCK else spec
