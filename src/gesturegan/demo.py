"""`gesturegan demo`: the whole loop on the built-in corpus, in under ten minutes on two CPU cores.

DIR/corpus (WAVs + labels.csv) → DIR/data (dataset) → DIR/run (training run) → DIR/samples/<class>/,
DIR/morph/, DIR/composition.wav, DIR/report.md (+ PNGs). Re-running the same command reuses what is
already complete and resumes an interrupted training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from .atomic import write_text
from .composition import compose
from .console import progress
from .corpus import write_corpus
from .dataset import Dataset, prepare
from .generation import generate, load, morph
from .plots import envelope_plot, spectrogram_grid, training_curves
from .report import category_stats, envelope_table
from .runs import LATEST, Run
from .training import train

# A step count, not a time budget, so every machine trains the same model (a time budget on a busy
# machine gave a much worse one). 128 steps for each of the sketch preset's six stages.
DEFAULT_STEPS = 768
# Clips per step, per stage: 16 from 32x32 up, where the steps' time goes. With 32 throughout the
# demo took 6:16 on two Xeon cores but 13:59 on two AMD EPYC cores; with these sizes 9:20 on the
# AMD pair when idle (9:21 with the transposed upsampling; up to 10:53 in a slow hour of that shared
# VM: docs/runs.md, "The demo").
DEMO_BATCH = (32, 32, 32, 16)
# The probes that pick the exported generator run every 32 steps, not every minute: on a clock, a
# slower machine probed other steps and exported another generator of the same training
# (docs/runs.md, "The demo"). The faded-in last stage gets a few probes, as a minute's clock gave.
PROBE_EVERY_STEPS = 32
# D's periodicity input pays off over long runs (docs/training.md) but costs a fifth of the small
# stages' steps: in 6.5 minutes of the earlier time-bounded demo, 1614 steps with it and a collapse
# warning, 2020 without.
DEMO_MODEL = {"d_periodicity": False}
# The built-in corpus on 128x128 log-mel images: the default stft_pghi's 256x128 images take twice
# the pixels at the last stages, which hold most of the steps' time, and a decoder of 32 iterations
# against 8 for every clip the demo writes.
DEMO_REPR = "logmel_gl"
SAMPLES_PER_CLASS = 8
MORPHS = (("trigger", "continuous_variation"), ("continuous_repetition", "trigger_continuous"))


@dataclass
class DemoResult:
    out: Path
    report: Path
    seconds: float


def run_demo(
    out: str | Path,
    steps: int | None = None,
    per_class: int = 64,
    seed: int = 0,
    show_progress: bool = True,
    device: str = "cpu",
    minutes: float | None = None,
) -> DemoResult:
    """Run the demo into ``out`` and return where its report is; models train and generate on
    ``device`` (``gesturegan.device.resolve``).

    The model (the sketch preset) trains ``steps`` steps (default ``DEFAULT_STEPS``) and is
    probed every ``PROBE_EVERY_STEPS``, the same model on every machine; ``minutes`` instead
    bounds its training time (the model then depends on the machine's speed)."""
    t0 = time.monotonic()
    out = Path(out)
    if minutes is None and steps is None:
        steps = DEFAULT_STEPS
    budget = f"{steps} steps" if minutes is None else f"{minutes:g} min"
    corpus_dir, data_dir, run_dir = out / "corpus", out / "data", out / "run"

    _say(show_progress, "1/6 corpus")
    if not (corpus_dir / "labels.csv").is_file():
        with progress("corpus", show_progress) as cb:
            write_corpus(corpus_dir, per_class=per_class, seed=seed, progress=cb)
    _say(show_progress, "2/6 prepare")
    if not (data_dir / "dataset.json").is_file():
        with progress("prepare", show_progress) as cb:
            prepare(corpus_dir, data_dir, labels_csv=corpus_dir / "labels.csv", progress=cb)
    _say(show_progress, f"3/6 train ({budget})")
    run = Run(run_dir)
    if not run.has_generator():
        resume = run.has_checkpoint(LATEST)
        train(
            run_dir,
            data=str(data_dir),
            overrides={
                "preset": "sketch", "steps": steps if minutes is None else None,
                "minutes": minutes, "seed": seed, "repr": DEMO_REPR, "pgan": DEMO_MODEL,
                "batch_size": DEMO_BATCH, "device": device,
                "monitor_every_steps": PROBE_EVERY_STEPS if minutes is None else None,
            },  # fmt: skip
            resume=resume,
            show_progress=show_progress,
        )

    _say(show_progress, "4/6 samples and morphs")
    gen = load(run_dir, device)
    for cat in gen.categories:
        generate(
            run_dir, out / "samples" / cat, n=SAMPLES_PER_CLASS, category=cat, seed=seed,
            device=device,
        )  # fmt: skip
    strips = [
        morph(run_dir, a, b, out / "morph", steps=8, seed=seed, device=device).strip
        for a, b in MORPHS
        if a in gen.categories and b in gen.categories
    ]
    _say(show_progress, "5/6 composition")
    score = resources.files("gesturegan") / "data" / "demo_score.yaml"
    with resources.as_file(score) as score_path:
        source = partial(load, device=device)
        mix = compose(score_path, out / "composition.wav", source, run_override=run_dir)

    _say(show_progress, "6/6 report")
    report = _write_report(out, run, gen, Dataset.open(data_dir), strips, mix, seed)
    return DemoResult(out, report, time.monotonic() - t0)


def _write_report(
    out: Path, run: Run, gen, data: Dataset, strips: list[Path], mix, seed: int
) -> Path:
    seeds = list(range(seed, seed + SAMPLES_PER_CLASS))
    generated = {c: gen.samples(c, seeds) for c in gen.categories}
    real = {}
    for i, name in enumerate(data.label_names):
        idx = np.flatnonzero(data.label_ids == i)[:32]
        real[name] = np.asarray(data.waves[idx], dtype=np.float32)
    fig = out / "figures"
    spectrogram_grid(generated, gen.sr, fig / "generated.png", title="generated gestures")
    spectrogram_grid(
        {k: v[:6] for k, v in real.items()}, gen.sr, fig / "corpus.png", title="built-in corpus"
    )
    envelope_plot(generated, gen.sr, fig / "envelopes.png", reference_by_label=real)
    training_curves(
        run.metrics_rows(),
        fig / "training.png",
        columns=["d_loss", "g_loss", "d_real", "d_fake", "penalty", "img_per_s"],
        title="training curves (dashed: a new growth stage begins)",
    )
    gen_stats = [category_stats(c, w, gen.sr) for c, w in generated.items()]
    real_stats = [category_stats(c, w, gen.sr) for c, w in real.items()]

    def rel(p: Path) -> str:
        return p.relative_to(out).as_posix()

    morph_md = "\n".join(f"![morph]({rel(p)})" for p in strips)
    text = f"""# gesturegan demo report

Model: class-conditional progressive GAN on `{gen.meta["repr"]}` images, trained
{gen.meta["step"]} steps up to stage {gen.final_stage}. Everything here is made again by
`gesturegan demo --out {out.name}`.

## Envelope statistics per category: generated (corpus)

Mean over {SAMPLES_PER_CLASS} generated clips per category, with the same statistic over corpus
clips of that category in brackets. "labeler agrees" is the share of clips that the rule-based
envelope labeler (`gestures.label`) puts in the category the model was asked for.

{envelope_table(gen_stats, real_stats)}

![envelopes]({rel(fig / "envelopes.png")})

## Spectrograms

Generated, one row per category (seeds {seeds[0]}–{seeds[-1]}):

![generated]({rel(fig / "generated.png")})

The corpus the model learned from:

![corpus]({rel(fig / "corpus.png")})

## Training

![training curves]({rel(fig / "training.png")})

Growth over time: ![progress](run/progress.gif). Audio snapshots of every stage are in
`run/samples/<stage>/`.

## Morphs

{morph_md}

## Composition

`composition.wav`: {mix.stereo.shape[0] / mix.sr:.1f} s, {len(mix.events)} events, normalisation
gain {mix.gain_db_applied:+.1f} dB.
"""
    return write_text(out / "report.md", text)


def _say(enabled: bool, msg: str) -> None:
    if enabled:
        import sys

        print(f"[demo] {msg}", file=sys.stderr, flush=True)
