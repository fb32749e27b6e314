"""The hand-written derivatives (models/conv.py, models/layers.py) equal PyTorch's own, to second
order: the R1 and WGAN-GP penalties differentiate through them twice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gesturegan.models.conv import Conv1d, Conv2d, conv, input_gradients_only, leaky_relu
from gesturegan.models.layers import EqualConv2d, downsample2, lrelu, pixel_norm
from gesturegan.models.wavegan import phase_shuffle
from gesturegan.training.losses import gradient_penalty


def _penalty_grads(f, x, params, input_grads_only=False):
    """Gradients of a penalty-shaped loss ``‖∇_x Σ f(x)²‖² + Σ f(x)`` w.r.t. ``x`` and ``params``."""
    y = f(x)
    ctx = input_gradients_only() if input_grads_only else torch.enable_grad()
    with ctx:
        (g,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    return torch.autograd.grad(g.square().sum() + y.sum(), (x, *params))


@pytest.mark.parametrize(
    "nd, stride, padding, kernel, slope",
    [
        (2, 1, 1, 3, None),
        (2, 1, 1, 3, 0.2),
        (2, 2, 1, 4, None),
        (1, 4, 12, 25, 0.2),
        (2, 1, 0, 1, None),
    ],
)
def test_conv_matches_torch_to_second_order(nd, stride, padding, kernel, slope):
    torch.manual_seed(0)
    x = torch.randn(3, 4, *(11,) * nd, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 4, *(kernel,) * nd, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    ref_conv = F.conv2d if nd == 2 else F.conv1d

    def ref(x):
        y = ref_conv(x, w, b, stride=stride, padding=padding)
        return y if slope is None else F.leaky_relu(y, slope)

    def ours(x):
        return conv(x, w, b, stride, padding, slope)

    torch.testing.assert_close(ours(x), ref(x))
    expected = _penalty_grads(ref, x, (w, b))
    for got in (_penalty_grads(ours, x, (w, b)), _penalty_grads(ours, x, (w, b), True)):
        for a, e in zip(got, expected, strict=True):
            torch.testing.assert_close(a, e)
    # Numerically on a smaller input (its cost grows with the square of the elements).
    small = x.detach()[(slice(0, 2), slice(None), *(slice(0, 7),) * nd)].clone().requires_grad_()
    assert torch.autograd.gradgradcheck(
        lambda x, w, b: conv(x, w, b, stride, padding, slope), (small, w, b)
    )


def test_fused_float32_conv_equals_conv_then_leaky_relu():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 16, 16).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(8, 8, 3, 3, requires_grad=True), torch.randn(8, requires_grad=True)
    x.requires_grad_(True)
    ours = conv(x, w, b, 1, 1, slope=0.2)
    ref = F.leaky_relu(F.conv2d(x, w, b, padding=1), 0.2)
    torch.testing.assert_close(ours, ref)
    for a, e in zip(
        torch.autograd.grad(ours.square().sum(), (x, w, b)),
        torch.autograd.grad(ref.square().sum(), (x, w, b)),
        strict=True,
    ):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize(
    "cls, ref, kernel, kwargs, shape",
    [
        (Conv2d, torch.nn.Conv2d, 3, {"padding": "same"}, (2, 3, 9, 9)),
        (Conv2d, torch.nn.Conv2d, (2, 4), {"padding": "same"}, (2, 3, 9, 9)),
        (Conv2d, torch.nn.Conv2d, 4, {"stride": 2, "padding": 1}, (2, 3, 16, 16)),
        (Conv1d, torch.nn.Conv1d, 25, {"stride": 4, "padding": 12}, (2, 3, 256)),
    ],
)
def test_conv_modules_match_torch_modules(cls, ref, kernel, kwargs, shape):
    torch.manual_seed(1)
    theirs = ref(3, 5, kernel, **kwargs).double()
    torch.manual_seed(1)
    ours = cls(3, 5, kernel, **kwargs).double()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(ours(x), theirs(x))
    got = _penalty_grads(ours, x, (ours.weight, ours.bias))
    expected = _penalty_grads(theirs, x, (theirs.weight, theirs.bias))
    for a, e in zip(got, expected, strict=True):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize(
    "ours, ref",
    [
        (lrelu, lambda x: F.leaky_relu(x, 0.2)),
        (lambda x: leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1)),
        (downsample2, lambda x: F.avg_pool2d(x, 2)),
        (pixel_norm, lambda x: x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)),
    ],
)
def test_elementwise_layers_match_torch(ours, ref):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 6, 6, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(ours(x), ref(x))
    g = torch.randn_like(x[:, :, ::2, ::2] if ours is downsample2 else x)
    (a,) = torch.autograd.grad(ours(x), x, g)
    (e,) = torch.autograd.grad(ref(x), x, g)
    torch.testing.assert_close(a, e)
    if ours is not pixel_norm:  # G's pixel norm is never differentiated twice
        assert torch.autograd.gradgradcheck(ours, (x,))


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_downsample2_gradient_matches_torch_for_odd_sizes_and_both_layouts(size, layout):
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size).to(memory_format=layout).requires_grad_()
    g = torch.randn(2, 3, size // 2, size // 2).to(memory_format=layout)
    (a,) = torch.autograd.grad(downsample2(x), x, g)
    (e,) = torch.autograd.grad(F.avg_pool2d(x, 2), x, g)
    torch.testing.assert_close(a, e)


@pytest.mark.parametrize("kernel", [(3, 3), (1, 1), (1, 6), (2, 8), (2, 2), (5, 4)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("pad", ["zeros", "replicate"])
def test_upsampled_conv_equals_nearest_upsampling_then_the_conv(kernel, layout, pad):
    """The transposed-convolution form is the same function, values and gradients, as
    interpolating x2 and convolving, for odd, even and time-favouring kernels, with either padding;
    without autograd too (oneDNN's fused activation on channels-last CPU tensors)."""
    torch.manual_seed(0)
    fused = EqualConv2d(3, 5, kernel, activate=True, upsample=True, pad=pad)
    plain = EqualConv2d(3, 5, kernel, activate=True, pad=pad)
    with torch.no_grad():
        fused.bias.normal_()
    plain.load_state_dict(fused.state_dict())  # same parameters, same state_dict keys
    for m in (fused, plain):
        m.to(memory_format=layout)
    x = torch.randn(2, 3, 6, 6).to(memory_format=layout).requires_grad_()
    a = fused(x)
    e = plain(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    assert a.shape == (2, 5, 12, 12)
    assert a.is_contiguous(memory_format=layout)
    torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), e, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(e)
    ours = torch.autograd.grad(a, (x, fused.weight, fused.bias), g)
    ref = torch.autograd.grad(e, (x, plain.weight, plain.bias), g)
    for o, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel", [(3, 3), (2, 8), (5, 4)])
@pytest.mark.parametrize("upsample", [False, True])
def test_replicate_padding_leaves_no_frame_where_zeros_do(kernel, upsample):
    """On an even feature map the replicate-padded convolution is even up to every border (zero
    padding darkens or brightens the edges), and away from the borders both paddings agree."""
    torch.manual_seed(0)
    zeros = EqualConv2d(3, 4, kernel, upsample=upsample)
    replicate = EqualConv2d(3, 4, kernel, upsample=upsample, pad="replicate")
    replicate.load_state_dict(zeros.state_dict())
    x = torch.ones(1, 3, 12, 12) * torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)
    even, framed = replicate(x), zeros(x)
    torch.testing.assert_close(even, even[..., :1, :1].expand_as(even))
    assert (framed - even).abs().amax() > 0.1
    inner = (slice(None), slice(None), slice(5, -5), slice(5, -5))  # out of the borders' reach
    assert framed[inner].numel() >= 2 * 2 * 4
    torch.testing.assert_close(framed[inner], even[inner])
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(zeros(x)[inner], replicate(x)[inner])


def test_pointwise_conv_in_scale_equals_scaling_its_input():
    """``to_img``'s folded pixel norm: a 1x1 convolution of ``x · s`` is its output times ``s``."""
    torch.manual_seed(0)
    m = EqualConv2d(6, 2, (1, 1), gain=1.0)
    with torch.no_grad():
        m.bias.normal_()
    x, s = torch.randn(3, 6, 5, 5), torch.rand(3, 1, 5, 5)
    torch.testing.assert_close(m(x, in_scale=s), m(x * s))
    with pytest.raises(ValueError, match="1x1"):
        EqualConv2d(6, 2, (3, 3))(x, in_scale=s)


def test_phase_shuffle_shifts_each_clip_by_its_own_offset():
    x = torch.randn(6, 3, 40)
    torch.manual_seed(3)
    shifts = torch.randint(-2, 3, (6,))
    torch.manual_seed(3)
    out = phase_shuffle(x, 2)
    padded = F.pad(x, (2, 2), mode="reflect")
    for i, s in enumerate(shifts.tolist()):
        torch.testing.assert_close(out[i], padded[i, :, 2 - s : 2 - s + 40])


def test_gradient_penalty_of_waveforms_matches_plain_autograd():
    """The penalty of 1-D inputs, and its gradient for the critic's weights (through ``conv``'s
    fast double backward), equal those of plain ``F.conv1d`` at the same interpolates."""
    torch.manual_seed(0)
    critic = Conv1d(1, 2, 5, padding=2)
    real, fake = torch.randn(4, 1, 64), torch.randn(4, 1, 64)
    gp = gradient_penalty(
        lambda x: critic(x).square().sum(dim=(1, 2)), real, fake, torch.Generator().manual_seed(5)
    )
    gp.backward()

    weight = critic.weight.detach().clone().requires_grad_(True)
    eps = torch.rand((4, 1, 1), generator=torch.Generator().manual_seed(5))
    mixed = (real + eps * (fake - real)).requires_grad_(True)
    score = F.conv1d(mixed, weight, critic.bias.detach(), padding=2).square().sum(dim=(1, 2))
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    want = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    want.backward()
    assert gp.shape == () and want > 1  # far from a unit gradient: the penalty is not trivial
    torch.testing.assert_close(gp, want)
    torch.testing.assert_close(critic.weight.grad, weight.grad)
