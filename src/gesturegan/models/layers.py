"""Building blocks of the progressive GAN: equalised learning rate, pixel norm, minibatch stddev.

Equalised learning rate (Karras et al. 2018): weights are drawn from N(0, 1) and scaled at run time by
He's constant, so Adam's per-parameter step sizes are equal across layers of different fan-in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conv import conv, conv_transpose, leaky_relu, replicate_pad


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: ``x [B, in] → [B, out]``."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, gain: float = 2**0.5
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


PADS = ("zeros", "replicate")
"""How ``EqualConv2d`` pads the borders of its input."""


class EqualConv2d(nn.Module):
    """Stride-1 'same' convolution with equalised learning rate; any kernel (kh, kw), even ones too.

    ``x [B, in, H, W] → [B, out, H, W]``. Kernels are (frequency, time) for spectrogram images, so
    (1, 8) or (2, 8) favour the time axis as in the original project's "horizontal priority" kernels.
    ``activate=True`` follows it with ``lrelu`` (fused into the convolution on CPU).
    ``upsample=True`` first enlarges ``x`` x2 by nearest neighbour: ``[B, in, H, W] → [B, out, 2H, 2W]``
    (see ``_upsampled_conv``).
    ``pad`` is how the borders are padded: ``"zeros"``, or ``"replicate"`` (the edge pixel, so a
    feature map that is even at a border stays even there: no frame).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int] = (3, 3),
        gain: float = 2**0.5,
        activate: bool = False,
        upsample: bool = False,
        pad: str = "zeros",
    ):
        super().__init__()
        if pad not in PADS:
            raise ValueError(f"pad must be one of {', '.join(PADS)}, got {pad!r}")
        kh, kw = kernel
        self.activate = activate
        self.upsample = upsample
        self.pad = pad
        if upsample:
            replicate = pad == "replicate"
            taps_h, self.up_pad_h, crop_h, extend_h = _transposed_taps(kh, replicate)
            taps_w, self.up_pad_w, crop_w, extend_w = _transposed_taps(kw, replicate)
            # conv_transpose2d's padding and output_padding, (height, width)
            self.up_crop, self.up_extend = (crop_h, crop_w), (extend_h, extend_w)
            self.register_buffer("taps_h", taps_h, persistent=False)
            self.register_buffer("taps_w", taps_w, persistent=False)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kh * kw)
        self.pointwise = kh == kw == 1
        # 'same' padding: symmetric inside the convolution; an even kernel's extra pixel goes to
        # the end of its axis, padded beforehand.
        self.padding = ((kh - 1) // 2, (kw - 1) // 2)
        self.extra_pad = (0, 1 - kw % 2, 0, 1 - kh % 2)

    def forward(self, x: torch.Tensor, in_scale: torch.Tensor | None = None) -> torch.Tensor:
        """``in_scale [B, 1, H, W]`` (1x1 kernels only): convolve ``x · in_scale`` instead of ``x``,
        computed as the convolution's output times ``in_scale`` (a 1x1 convolution is linear per
        pixel), which saves a pass over ``x``'s channels when there are more of them than outputs."""
        if in_scale is not None and (self.upsample or not self.pointwise):
            raise ValueError("in_scale needs a 1x1 kernel without upsampling")
        w = self.weight * self.scale
        if self.upsample:
            return self._upsampled_conv(x, w)
        if self.pointwise:
            # A matmul over channels, on NHWC views (no copies for channels_last x): oneDNN's 1x1
            # convolution from or to one or two channels ran 10-20x slower than this. The bias is
            # added afterwards: addmm with a bias and one input channel took 4x as long as mm.
            y = F.linear(x.permute(0, 2, 3, 1), w.flatten(1))
            if in_scale is not None:
                y = y * in_scale.permute(0, 2, 3, 1)
            y = y.add_(self.bias).permute(0, 3, 1, 2)
            return lrelu(y) if self.activate else y
        slope = LRELU_SLOPE if self.activate else None
        if self.pad == "replicate":
            (ph, pw), (_, right, _, bottom) = self.padding, self.extra_pad
            x = replicate_pad(x, (pw, pw + right, ph, ph + bottom))
            return conv(x, w, self.bias, slope=slope)
        if any(self.extra_pad):
            x = F.pad(x, self.extra_pad)
        return conv(x, w, self.bias, padding=self.padding, slope=slope)

    def _upsampled_conv(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Nearest-neighbour x2 upsampling, then this convolution, as one transposed convolution
        (stride 2) of ``x``.

        Output pixel (2i+a, 2j+b) only sees input pixels near (i, j), through taps that are sums of
        the kernel's (``_transposed_taps``). For a 3x3 kernel the transposed convolution's 4x4
        kernel does 16 multiply-adds per input pixel and channel pair where upsampling and then
        convolving does 36, and it writes the four phases interleaved. On CPU it ran 1.8–2.1x
        faster, forward and backward, than the polyphase form it replaced (one convolution with
        4·out channels and the 36 multiply-adds, then an interleaving copy), which itself ran 1.8x
        faster than upsampling and convolving.
        """
        # [out, in, kh, kw] → [in, out, Lh, Lw]: conv_transpose2d's layout
        wt = torch.einsum("kt,ls,oits->iokl", self.taps_h, self.taps_w, w)
        if self.pad == "replicate":
            # The low-resolution edge pixel is the upsampled image's edge pixel too.
            x = replicate_pad(x, (*self.up_pad_w, *self.up_pad_h))  # last axis first
        slope = LRELU_SLOPE if self.activate else None
        return conv_transpose(x, wt, self.bias, self.up_crop, self.up_extend, slope)


def _transposed_taps(
    k: int, replicate: bool
) -> tuple[torch.Tensor, tuple[int, int], int, int]:
    """Along one axis, a 'same' kernel of ``k`` taps applied after x2 nearest upsampling, as a
    transposed convolution with stride 2: ``(M, pad, crop, extend)``.

    - ``M [L, k]``: its ``L`` taps, each a sum of the original ones (``M @ kernel``);
    - ``pad``: the (before, after) padding of the input: its edge pixels repeated for
      ``replicate``, none for zeros (a transposed convolution adds nothing from outside its input);
    - ``crop`` and ``extend``: conv_transpose2d's ``padding`` and ``output_padding``, which cut
      ``crop`` rows from the start of its full output and ``crop − extend`` from the end, leaving
      exactly the upsampled image.

    Output 2i+a, tap t reads upsampled pixel 2i+a−p+t (p = (k−1)//2 padded before, as in
    ``forward``), which is input pixel i+e, e = ⌊(a−p+t)/2⌋. A transposed convolution adds input j
    times its tap κ to output 2j+κ, so that is tap κ = a − 2e.
    """
    p = (k - 1) // 2
    reads = [(a - p + t) // 2 for a in (0, 1) for t in range(k)]  # e of (a, t)
    kappas = [a - 2 * reads[a * k + t] for a in (0, 1) for t in range(k)]
    low = min(kappas)
    m = torch.zeros(max(kappas) - low + 1, k)
    for i, kappa in enumerate(kappas):
        m[kappa - low, i % k] = 1.0
    before, after = (-min(reads), max(reads)) if replicate else (0, 0)
    # Output 2i + a of input j' = i + e + before (padded) lands at 2j' + κ − low of the full
    # output, so the image starts at ``start``; the full output has 2 · (padded length − 1) + L
    # rows: the image's 2 · length, ``start`` before it and ``tail`` after it.
    start = 2 * before - low
    tail = 2 * (before + after - 1) + len(m) - start
    if tail == start + 1:
        # One row more at the end than at the start (k = 2, 6, 10 … with replicate): one more
        # edge row before moves the image two rows on.
        before, start = before + 1, start + 2
    return m, (before, after), start, start - tail


def pixel_norm(x: torch.Tensor, eps: float = 1e-8, reuse: bool = False) -> torch.Tensor:
    """Normalise each feature vector (dim 1) to unit mean square: ``x · rsqrt(mean_c x² + eps)``.
    ``reuse``: ``x`` is a temporary nobody reads afterwards, so without autograd the result is
    written over it (an in-place multiply took half the time of one into new memory)."""
    if not torch.is_grad_enabled():
        # Nothing to differentiate: the plain operators, which torch.jit.trace can also record.
        scale = pixel_norm_scale(x, eps)
        return x.mul_(scale) if reuse else x * scale
    return _PixelNorm.apply(x, eps)


def pixel_norm_scale(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``rsqrt(mean_c x² + eps)`` ``[B, 1, ...]``, pixel norm's factor: one pass over ``x``
    (vector_norm), where ``pow`` + ``mean`` took two."""
    norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    return torch.rsqrt(norm.square() / x.shape[1] + eps)


class _PixelNorm(torch.autograd.Function):
    """Pixel norm with a hand-written backward: 4 passes over the tensor where autograd's chain of
    pow, mean, rsqrt and mul took 7 (and left NCHW gradients behind in an NHWC network)."""

    @staticmethod
    def forward(ctx, x, eps):
        r = pixel_norm_scale(x, eps)
        y = x * r
        ctx.save_for_backward(y, r)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        # y = x·r, r = (mean_c x² + eps)^(-1/2)  ⇒  ∂L/∂x = r · (g − y · mean_c(g·y))
        y, r = ctx.saved_tensors
        dot = (grad * y).mean(dim=1, keepdim=True)
        return torch.addcmul(grad, y, dot, value=-1.0).mul_(r), None


def upsample2(x: torch.Tensor, smooth: bool = False) -> torch.Tensor:
    """2x upsampling, ``[B, C, H, W] → [B, C, 2H, 2W]``: nearest (each pixel repeated), or with
    ``smooth`` bilinear (each new pixel ¾ of its source pixel and ¼ of the neighbour on its side,
    the edges repeated: the [1, 3, 3, 1] / 4 filter of StyleGAN2's skip generator)."""
    if smooth:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample2(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling, ``[B, C, H, W] → [B, C, H/2, W/2]``, cheap to differentiate twice: as
    with ``lrelu``, PyTorch's derivative of ``avg_pool2d_backward`` adds a zero tensor for the
    input (in NCHW, which then slows every later operation of an NHWC network)."""
    return _AvgPool2.apply(x)


class _AvgPool2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)  # for its shape and memory format only
        return F.avg_pool2d(x, 2)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return _AvgPool2Grad.apply(grad, x)


class _AvgPool2Grad(torch.autograd.Function):
    """``grad ↦ ∂avg_pool2d/∂x ᵀ grad``: linear in ``grad``; ``x`` gives the shape only."""

    @staticmethod
    def forward(ctx, grad, x):
        if x.shape[-2:] != tuple(2 * n for n in grad.shape[-2:]):  # odd sizes: a row was dropped
            return torch.ops.aten.avg_pool2d_backward(
                grad, x, [2, 2], [2, 2], [0, 0], False, True, None
            )
        # A quarter of each cell's gradient to its four pixels, written once: PyTorch's kernel
        # zero-fills the full-size result first, one more pass over the largest tensors of a step.
        return F.interpolate(grad * 0.25, scale_factor=2.0, mode="nearest")

    @staticmethod
    def backward(ctx, grad_grad):
        return F.avg_pool2d(grad_grad, 2), None


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the mean feature stddev over groups of the batch. ``[B, C, H, W] → [B, C+1, H, W]``.

    Lets the discriminator see batch diversity, which discourages mode collapse.
    """
    b, c, h, w = x.shape
    g = math.gcd(min(group_size, b), b)
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # [B/g, C, H, W]
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [B, 1, H, W]
    return torch.cat([x, y], dim=1)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU, slope 0.2, cheap to differentiate twice (``conv.leaky_relu``)."""
    return leaky_relu(x, LRELU_SLOPE)


LRELU_SLOPE = 0.2
