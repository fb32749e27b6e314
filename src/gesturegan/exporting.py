"""A trained generator and its decoder as one graph file, usable without gesturegan.

``export(run_dir, "torchscript" | "onnx")`` records ``Generator.synthesizer`` — latent ``z [B, Z]``
and conditioning ``c [B, n_classes]`` → ``wave [B, T]`` float32 in [-1, 1] — with
``torch.jit.trace`` or ``torch.onnx.export``, inside ``portable.operators()`` so the fast paths a
tracer cannot see step aside. The batch size stays free. Before the file is put in place it is
loaded back (``torch.jit.load`` / onnxruntime) and run on a few seeds, one per class, and its
output is compared with gesturegan's own generation; beyond ``tolerance`` the export fails and no
file is left. What a user needs — rate, classes in input order, shapes, and the figures of the
check — is embedded in the graph file itself (``described``), so graph and description appear in
one rename; the JSON sidecar ``<file>.json`` is a copy of it, moved aside before the new graph
goes in and written after, so it never stands beside a graph it does not describe.
docs/export.md has a 10-line example.

Representations whose decoder uses the heap PGHI on the CPU (``logmel_pghi``, ``daisukelab_mel``)
cannot be exported: ``Representation.untraceable`` says why. The torch PGHI of ``logmel_gl`` and
``stft_pghi`` (``representations.phase``) records like any other operator.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import portable
from .atomic import atomic_path, clean_temps, fsync_folder, temp_name, write_text
from .errors import UserError
from .generation import Generator, load

FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
"""Export formats and their file suffixes."""
ONNX_MODULES = ("onnx", "onnxscript", "onnxruntime")
"""What ONNX export and its check import (the ``export`` extra)."""
DEFAULT_TOLERANCE = 1e-2
"""Largest sample difference (−40 dBFS) accepted between the export and gesturegan's generation.
Exact representations agree to ~1e-6; Griffin-Lim's iterations carry the FFTs' rounding
differences up to ~1e-3 (TorchScript) or a few 1e-3 (ONNX Runtime's FFT). docs/export.md has the
figures."""
EMBEDDED = "gesturegan.json"
"""The name of the description inside a graph file: a TorchScript extra file, an ONNX metadata
key."""
TRACE_BATCH = 2
"""Clips in the example batch that is traced; the check runs another batch size, so a graph that
had frozen the batch size would fail it."""


@dataclass
class Exported:
    """What ``export`` wrote and measured.

    ``max_abs_diff``: largest sample difference between the exported graph (loaded back from the
    file) and gesturegan's own generation over ``check_seeds``; ``export_s``: seconds to record
    and save; ``load_s``: seconds to load the file back; ``ms_per_clip``: its run time per clip
    on the check batch (second run, after warm-up).
    """

    path: Path
    format: str
    run: str
    repr: str
    model: str
    stage: str
    sr: int
    length: int
    z_dim: int
    categories: list[str]
    check_seeds: list[int]
    max_abs_diff: float
    tolerance: float
    export_s: float
    load_s: float
    ms_per_clip: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with the graph's inputs and output spelled out."""
        inputs = {"z": ["batch", self.z_dim]}
        if self.categories:
            inputs["c"] = ["batch", len(self.categories)]
        return {
            **asdict(self),
            "path": str(self.path),
            "inputs": inputs,
            "output": {"wave": ["batch", self.length]},
        }


def export(
    run_dir: str | Path,
    format: str = "torchscript",
    out: str | Path | None = None,
    stage: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    check_seeds: tuple[int, ...] = (0, 1, 2, 3),
    device: str = "cpu",
) -> Exported:
    """Write a run's generator and decoder as one TorchScript or ONNX file, checked.

    Parameters
    ----------
    run_dir : training run folder.
    format : ``"torchscript"`` (load with ``torch.jit.load``) or ``"onnx"`` (onnxruntime).
    out : file to write; default ``RUN/generator.pt`` or ``RUN/generator.onnx`` (with
        ``-<stage>`` before the suffix for an earlier stage). The sidecar is ``<out>.json``.
    stage : growth stage to export (default: the last trained).
    tolerance : largest accepted sample difference from gesturegan's own generation.
    check_seeds : latent seeds of the check batch; clip ``i`` is of class ``i mod n_classes``.
    device : where gesturegan's own generation (the check's reference) runs. The graph is
        always recorded on the CPU, so the file runs anywhere.

    Returns
    -------
    Exported, also written as the sidecar JSON.

    Raises
    ------
    UserError
        Unknown format or stage, a representation that cannot be exported, or an export whose
        output differs by more than ``tolerance`` (then nothing is written).

    Examples
    --------
    >>> done = export("runs/demo", "onnx")  # doctest: +SKIP
    >>> done.path, done.max_abs_diff  # doctest: +SKIP
    (PosixPath('runs/demo/generator.onnx'), 0.0047)
    """
    if format not in FORMATS:
        raise UserError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")
    if not tolerance > 0:
        raise UserError(f"tolerance must be positive, got {tolerance}")
    if len(check_seeds) < 1:
        raise UserError("the check needs at least one seed")
    if format == "onnx":
        _require_onnx()
    gen = load(run_dir, device)
    if gen.rep.untraceable:
        raise UserError(f"{gen.rep.name} cannot be exported: {gen.rep.untraceable}")
    stage_name = gen.stage(stage)
    on_cpu = gen if gen.device.type == "cpu" else load(run_dir, "cpu")
    module = on_cpu.synthesizer(stage).eval()
    if out is None:
        suffix = "" if stage_name == gen.final_stage else f"-{stage_name}"
        out = gen.run.export_path(f"{suffix}{FORMATS[format]}")
    out = Path(out)

    z, c = check_inputs(gen, list(check_seeds))
    reference = gen.decode(gen.render(z, c, stage))  # gesturegan's own generation
    example = _inputs(z[:TRACE_BATCH], None if c is None else c[:TRACE_BATCH])
    names = ["z"] if c is None else ["z", "c"]

    sidecar = out.with_name(out.name + ".json")
    clean_temps(out.parent, recursive=False)  # of an export killed before
    aside = temp_name(sidecar, "aside")  # the old copy, while the new graph goes in
    new_inode = -1
    try:
        with atomic_path(out) as tmp:
            start = time.perf_counter()
            graph = _record(module, example, names, format)
            _save(graph, format, tmp, "{}")
            export_s = time.perf_counter() - start
            run, load_s = _load(tmp, format, names)
            run(_inputs(z, c))  # warm-up: TorchScript optimises on its first runs
            start = time.perf_counter()
            waves = run(_inputs(z, c))
            ms_per_clip = 1000 * (time.perf_counter() - start) / len(z)
            same = waves.shape == reference.shape
            diff = float(np.abs(waves - reference).max()) if same else np.nan
            if not diff <= tolerance:  # NaN fails too
                raise UserError(
                    f"the exported {format} graph's output differs from gesturegan's by {diff:.3g} "
                    f"(tolerance {tolerance:g}); nothing was written"
                )
            done = Exported(
                path=out,
                format=format,
                run=str(gen.run_dir),
                repr=gen.rep.name,
                model=gen.meta["model"],
                stage=stage_name,
                sr=gen.sr,
                length=gen.length,
                z_dim=int(z.shape[1]),
                categories=list(gen.categories),
                check_seeds=[int(s) for s in check_seeds],
                max_abs_diff=diff,
                tolerance=tolerance,
                export_s=round(export_s, 3),
                load_s=round(load_s, 3),
                ms_per_clip=round(ms_per_clip, 3),
            )
            description = json.dumps(done.to_dict(), indent=2)
            _save(graph, format, tmp, description)  # the same graph, now with its description
            if sidecar.is_file():  # the old copy must not stand beside the new graph
                os.replace(sidecar, aside)
                fsync_folder(out.parent)
            new_inode = tmp.stat().st_ino
    except BaseException:  # the old graph stays: so does its copy, if it had one
        if aside.is_file() and _inode(out) != new_inode:
            os.replace(aside, sidecar)
        raise
    aside.unlink(missing_ok=True)
    write_text(sidecar, description)
    return done


def described(path: str | Path) -> dict[str, Any]:
    """The description embedded in an exported graph file (what the sidecar copies)."""
    path = Path(path)
    try:
        if path.suffix == FORMATS["onnx"]:
            import onnx

            proto = onnx.load(str(path), load_external_data=False)
            return json.loads({p.key: p.value for p in proto.metadata_props}[EMBEDDED])
        extra = {EMBEDDED: ""}
        torch.jit.load(str(path), _extra_files=extra)
        return json.loads(extra[EMBEDDED])
    except Exception as exc:
        raise UserError(f"{path}: not a described gesturegan export ({exc})") from exc


def _inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except OSError:
        return -2


def _require_onnx() -> None:
    import importlib.util

    missing = [m for m in ONNX_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"ONNX export needs {', '.join(missing)}: pip install 'gesturegan[export]'"
        )


def check_inputs(gen: Generator, seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Latents ``[len(seeds), Z]`` of ``seeds`` and one-hot conditioning cycling through the
    classes (None for an unconditional run): the inputs the export is checked on."""
    z = gen.latents(seeds)
    if not gen.categories:
        return z, None
    c = torch.cat([gen.condition(gen.categories[i % len(gen.categories)], 1) for i in range(len(z))])
    return z, c


def _inputs(z: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    return (z,) if c is None else (z, c)


def _record(
    module: torch.nn.Module, example: tuple[torch.Tensor, ...], names: list[str], format: str
) -> Any:
    """Trace ``module`` on ``example``: a ScriptModule or an ONNXProgram."""
    with torch.no_grad(), portable.operators(), warnings.catch_warnings():
        # The tracer warns about every Python-level shape check; those are constant by design.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if format == "torchscript":
            return torch.jit.trace(module, example, check_trace=False)
        batch = torch.export.Dim("batch")
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            input_names=names,
            output_names=["wave"],
            dynamic_shapes={name: {0: batch} for name in names},
            # The graph optimiser took minutes on Griffin-Lim's 32 unrolled iterations, and its
            # result decoded some clips to NaN (onnxscript 0.7.2); ONNX Runtime optimises anyway.
            optimize=False,
            verbose=False,
        )
        return program


def _save(graph: Any, format: str, path: Path, description: str) -> None:
    """Write ``graph`` to ``path`` with ``description`` embedded. Bytes are made in memory and
    written by Python, so a full disk is an ``OSError`` (PyTorch's own writer aborts the process)."""
    if format == "torchscript":
        buf = io.BytesIO()
        torch.jit.save(graph, buf, _extra_files={EMBEDDED: description})
        path.write_bytes(buf.getvalue())
        return
    import onnx

    graph.save(str(path))
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    proto.metadata_props.add(key=EMBEDDED, value=description)
    path.write_bytes(proto.SerializeToString())


def _load(path, format: str, names: list[str]):
    """Load the graph at ``path`` as plain torch or onnxruntime would: ``(run, seconds)`` where
    ``run(inputs) → waves [B, T]`` float32 numpy."""
    start = time.perf_counter()
    if format == "torchscript":
        graph = torch.jit.load(str(path))

        def run(inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
            with torch.no_grad():
                return graph(*inputs).numpy()

    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def run(inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
            feed = {name: x.numpy() for name, x in zip(names, inputs, strict=True)}
            return session.run(["wave"], feed)[0]

    return run, time.perf_counter() - start
