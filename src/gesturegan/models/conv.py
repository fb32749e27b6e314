"""Convolution with a fast double backward, for the R1 and WGAN-GP penalties.

The penalties differentiate D's input gradient ``∇_x D`` once more. PyTorch's built-in double
backward of a convolution computes its weight term as a convolution of the input with the output
gradient as an image-sized kernel (batch and channel axes swapped, both tensors copied to match):
on CPU that ran at a few per cent of the machine's matmul rate, and a WGAN-GP step spent a quarter
of its time there. Here the input gradient is a transposed convolution, whose own backward uses
the ordinary (fast) weight-gradient kernel: the approach of StyleGAN2-ADA's ``conv2d_gradfix``.
The values are the same as ``F.conv1d`` / ``F.conv2d``'s, first and second derivatives included.

A penalty's ``∇_x D`` pass needs no weight gradients; ``input_gradients_only()`` skips them (an
``autograd.Function`` cannot tell that ``autograd.grad`` asked only for the input's, as PyTorch's
own operators can).

``leaky_relu`` is here for the same reason, and ``conv(..., slope=0.2)`` applies it inside oneDNN's
convolution on CPU (one pass over the output fewer), as ``conv_transpose`` does at inference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from .. import portable

_weight_gradients = True


@contextlib.contextmanager
def input_gradients_only() -> Iterator[None]:
    """Within this block, ``conv``'s backward computes input gradients only."""
    global _weight_gradients
    previous, _weight_gradients = _weight_gradients, False
    try:
        yield
    finally:
        _weight_gradients = previous


def conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    slope: float | None = None,
) -> torch.Tensor:
    """``F.conv1d`` or ``F.conv2d`` (by ``weight.ndim``) with a fast double backward, followed by
    ``leaky_relu(·, slope)`` when ``slope`` is given.

    ``x [B, Cin, *spatial]``, ``weight [Cout, Cin, *kernel]`` → ``[B, Cout, *spatial']``;
    ``padding`` is symmetric (zeros), as in ``F.conv2d``.
    """
    nd = weight.ndim - 2
    stride, padding = _ntuple(stride, nd), _ntuple(padding, nd)
    if torch.is_autocast_enabled(x.device.type):
        # Autocast does not see into the autograd Function below (nor, on the CPU, into
        # aten.convolution): cast as it would. The casts are differentiable, so the parameters'
        # gradients come back in their own dtype.
        dtype = torch.get_autocast_dtype(x.device.type)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
    if torch.compiler.is_compiling():
        # A graph for torch.compile (``training/compiling``: passes differentiated once only):
        # the plain operators, which it fuses and differentiates itself.
        return _plain_conv(x, weight, bias, stride, padding, slope)
    if not torch.is_grad_enabled():
        # Nothing to differentiate: the plain operators, which torch.jit.trace can also record.
        return _conv_forward(x, weight, bias, stride, padding, slope)
    return _Conv.apply(x, weight, bias, stride, padding, slope)


def conv_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: Sequence[int],
    output_padding: Sequence[int],
    slope: float | None = None,
) -> torch.Tensor:
    """``F.conv_transpose2d`` with stride 2, followed by ``leaky_relu(·, slope)`` when ``slope`` is
    given: ``x [B, Cin, H, W]``, ``weight [Cin, Cout, kh, kw]`` → ``[B, Cout, 2H − 2 + kh − 2·ph
    + oph, …]`` (``padding`` ph, ``output_padding`` oph).

    Without autograd, on CPU float32, the activation runs inside oneDNN's transposed convolution
    (one pass over the output fewer). Differentiated by PyTorch's own autograd: only the
    generator upsamples, and no penalty differentiates it twice."""
    stride, padding, output_padding = (2, 2), tuple(padding), tuple(output_padding)
    if (
        slope is not None
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled(x.device.type)
        and not torch.compiler.is_compiling()
        and _fused_lrelu_available(x, weight)
    ):
        return torch.ops.mkldnn._convolution_transpose_pointwise(
            x, weight, bias, padding, output_padding, stride, (1, 1), 1, "leaky_relu", [slope], ""
        )
    y = torch.nn.functional.conv_transpose2d(x, weight, bias, stride, padding, output_padding)
    return y if slope is None else leaky_relu(y, slope)


def replicate_pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """``F.pad(x, pad, mode="replicate")`` for ``x [B, C, H, W]``, ``pad`` (left, right, top,
    bottom), that torch.compile can also differentiate: in a compiled graph the edge rows and
    columns are repeated by concatenation, since its fake kernel of the replication pad's backward
    gets a channels-last input's strides wrong (torch 2.13)."""
    if not torch.compiler.is_compiling():
        return torch.nn.functional.pad(x, pad, mode="replicate")
    left, right, top, bottom = pad
    rows = (x[:, :, :1].expand(-1, -1, top, -1), x, x[:, :, -1:].expand(-1, -1, bottom, -1))
    x = torch.cat(rows, dim=2)
    cols = (x[..., :1].expand(-1, -1, -1, left), x, x[..., -1:].expand(-1, -1, -1, right))
    return torch.cat(cols, dim=3)


def leaky_relu(x: torch.Tensor, slope: float) -> torch.Tensor:
    """``F.leaky_relu(x, slope)`` (``slope > 0``) whose gradient is cheap to differentiate again.

    The gradient is written as a function of the incoming gradient alone (the sign of ``x`` is a
    constant there), so a penalty's double backward is one more masked pass; PyTorch's own
    derivative of ``leaky_relu_backward`` adds a zero tensor for ``x`` that is allocated, filled
    and summed into the gradient at every layer.
    """
    if not torch.is_grad_enabled() or torch.compiler.is_compiling():
        return torch.nn.functional.leaky_relu(x, slope)
    return _LeakyReLU.apply(x, slope)


def _ntuple(v: int | Sequence[int], n: int) -> tuple[int, ...]:
    return (v,) * n if isinstance(v, int) else tuple(v)


def _fused_lrelu_available(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and weight.ndim == 4
        and torch.backends.mkldnn.is_available()
        and not portable.required()  # an exported graph keeps to portable operators
    )


def _conv_forward(x, weight, bias, stride, padding, slope) -> torch.Tensor:
    if slope is not None and _fused_lrelu_available(x, weight):
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, padding, stride, (1,) * len(stride), 1, "leaky_relu", [slope], ""
        )
    return _plain_conv(x, weight, bias, stride, padding, slope)


def _plain_conv(x, weight, bias, stride, padding, slope) -> torch.Tensor:
    ones, zeros = (1,) * len(stride), (0,) * len(stride)
    y = torch.ops.aten.convolution(x, weight, bias, stride, padding, ones, False, zeros, 1)
    return y if slope is None else torch.nn.functional.leaky_relu(y, slope)


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, slope):
        y = _conv_forward(x, weight, bias, stride, padding, slope)
        ctx.save_for_backward(x, weight, y if slope is not None else None)
        ctx.stride, ctx.padding, ctx.slope = stride, padding, slope
        ctx.bias_shape = None if bias is None else list(bias.shape)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, y = ctx.saved_tensors
        stride, padding = ctx.stride, ctx.padding
        ones, zeros = (1,) * len(stride), (0,) * len(stride)
        if ctx.slope is not None:
            grad = _LeakyReLUGrad.apply(grad, y, ctx.slope)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # output_padding gives back the input rows a strided convolution rounded off.
            out_pad = [
                x.shape[2 + i] - ((grad.shape[2 + i] - 1) * s - 2 * p + weight.shape[2 + i])
                for i, (s, p) in enumerate(zip(stride, padding, strict=True))
            ]
            grad_x = torch.ops.aten.convolution(
                grad, weight, None, stride, padding, ones, True, out_pad, 1
            )
        want_b = ctx.needs_input_grad[2] and _weight_gradients
        if ctx.needs_input_grad[1] and _weight_gradients:
            # The bias gradient comes out of oneDNN's weight-gradient pass for free.
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                ctx.bias_shape if want_b else None,
                stride,
                padding,
                ones,
                False,
                zeros,
                1,
                [False, True, want_b],
            )
        elif want_b:
            grad_b = grad.sum([0, *range(2, grad.ndim)])
        return grad_x, grad_w, grad_b, None, None, None


class _LeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        y = torch.nn.functional.leaky_relu(x, slope)
        ctx.save_for_backward(y)  # sign(y) = sign(x) for a positive slope
        ctx.slope = slope
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return _LeakyReLUGrad.apply(grad, y, ctx.slope), None


class _LeakyReLUGrad(torch.autograd.Function):
    """``grad ↦ grad · (1 if y > 0 else slope)``: linear in ``grad``, constant in ``y``."""

    @staticmethod
    def forward(ctx, grad, y, slope):
        ctx.save_for_backward(y)
        ctx.slope = slope
        return torch.ops.aten.leaky_relu_backward(grad, y, slope, True)

    @staticmethod
    def backward(ctx, grad_grad):
        (y,) = ctx.saved_tensors
        return _LeakyReLUGrad.apply(grad_grad, y, ctx.slope), None, None


class _ConvModule:
    """Mixin: an ``nn.Conv1d`` / ``nn.Conv2d`` whose forward is ``conv`` (same parameters and
    state_dict keys); groups, dilation and non-zero padding modes keep PyTorch's own path."""

    def _conv_forward(self, x, weight, bias):
        if self.groups != 1 or set(self.dilation) != {1} or self.padding_mode != "zeros":
            return super()._conv_forward(x, weight, bias)
        padding = self.padding
        if isinstance(padding, str):  # 'same' or 'valid': PyTorch's own (left, right) per axis
            pads = self._reversed_padding_repeated_twice  # last axis first
            if pads[0::2] != pads[1::2]:  # an even kernel's 'same' pads the end one more
                x, padding = torch.nn.functional.pad(x, pads), 0
            else:
                padding = tuple(reversed(pads[0::2]))
        return conv(x, weight, bias, self.stride, padding)


class Conv1d(_ConvModule, torch.nn.Conv1d):
    """``nn.Conv1d`` with ``conv``'s fast double backward."""


class Conv2d(_ConvModule, torch.nn.Conv2d):
    """``nn.Conv2d`` with ``conv``'s fast double backward."""
