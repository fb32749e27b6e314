"""Where models run: ``--device auto|cpu|cuda|cuda:N|mps`` resolved once, at the edge.

``auto`` takes the first CUDA GPU when one is present, else the CPU (never MPS: the models'
double backward is not supported everywhere there, so MPS is only used when asked for). A device
that is asked for and absent is a ``UserError`` (one line at the CLI), not a traceback.
"""

from __future__ import annotations

import torch

from .errors import UserError

DEVICE_HELP = (
    "where models run: auto (a CUDA GPU when present, else the CPU), cpu, cuda, cuda:N, mps"
)
PRECISIONS = ("fp32", "bf16", "fp16")


def resolve(
    spec: str | torch.device | None = "auto", local_rank: int | None = None
) -> torch.device:
    """The ``torch.device`` that ``spec`` names, checked to exist.

    ``local_rank`` (torchrun): a bare ``cuda`` (or ``auto`` resolving to it) becomes
    ``cuda:LOCAL_RANK``, so each rank of a machine has its own GPU.
    """
    text = str(spec or "auto").strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"unknown device {spec!r}; {DEVICE_HELP}") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {spec}: no CUDA GPU is visible here; use --device cpu")
        index = device.index if device.index is not None else (local_rank or 0)
        if index >= torch.cuda.device_count():
            raise UserError(
                f"--device {spec}: GPU {index} asked for, {torch.cuda.device_count()} visible"
            )
        return torch.device("cuda", index)
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise UserError(f"--device {spec}: MPS (Apple GPU) is not available here")
        return device
    if device.type != "cpu":
        raise UserError(f"unknown device {spec!r}; {DEVICE_HELP}")
    return device


def describe(device: torch.device) -> str:
    """A line naming the device for the start of a command: ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def prepare(device: torch.device) -> None:
    """Make ``device`` the current one and allow TF32 for matmul and convolution on CUDA (10-bit
    mantissa inputs, fp32 accumulation: the precision GAN training is run at elsewhere)."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot train in: fp16 needs a GPU (CPU autocast has no
    loss scaling worth having); bf16 runs everywhere, on the CPU slowly."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise UserError("--precision fp16 needs a GPU; on the CPU use fp32 (or bf16)")


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of ``precision`` (``None`` for fp32: no autocast)."""
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued work (for timings; a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
