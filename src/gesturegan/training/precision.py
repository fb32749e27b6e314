"""The arithmetic a run trains in (``--precision fp32|bf16|fp16``): autocast regions and fp16 loss
scaling, one scaler per network (G's and D's losses differ by orders of magnitude).

fp32 is the default and touches nothing: no autocast, no scaler, the same operations as ever. The
R1 and gradient penalties always run outside autocast (``fp32``): their second derivatives lose
too much in half precision, which is why StyleGAN2-ADA keeps its regularisation pass in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from ..device import autocast_dtype, check_precision


class Precision:
    """Autocast of the forward passes and the fp16 loss scales of G and D."""

    def __init__(self, name: str, device: torch.device):
        check_precision(name, device)
        self.name, self.device = name, device
        self.dtype = autocast_dtype(name)
        scaled = name == "fp16"
        self.scalers = {
            net: torch.amp.GradScaler(device.type, enabled=True) if scaled else None
            for net in ("G", "D")
        }

    @property
    def reduced(self) -> bool:
        """Whether forward passes run in bf16/fp16 (anything but fp32)."""
        return self.dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The region of the forward passes (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def fp32(self) -> contextlib.AbstractContextManager:
        """A region kept in fp32 inside ``autocast`` (penalties)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, enabled=False)

    def backward_and_step(
        self,
        net: str,
        loss: torch.Tensor,
        opt: torch.optim.Optimizer,
        average: Callable[[], None],
        measure: Callable[[], torch.Tensor],
    ) -> torch.Tensor:
        """``loss.backward()``, ``average()`` (across ranks), ``measure()`` (of the unscaled
        gradients), ``opt.step()``; with fp16 through ``net``'s loss scaler, which skips a step
        whose gradients overflowed. Returns what ``measure`` returned."""
        scaler = self.scalers[net]
        if scaler is None:
            loss.backward()
            average()
            figure = measure()
            opt.step()
            return figure
        scaler.scale(loss).backward()
        average()  # before unscaling: an overflow on any rank then reaches every rank alike
        scaler.unscale_(opt)
        figure = measure()
        scaler.step(opt)
        scaler.update()
        return figure

    def state_dict(self) -> dict:
        """The loss scalers' states (empty unless fp16)."""
        return {k: s.state_dict() for k, s in self.scalers.items() if s is not None}

    def load_state_dict(self, state: dict) -> None:
        for k, s in self.scalers.items():
            if s is not None and k in state:
                s.load_state_dict(state[k])
