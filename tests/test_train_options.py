"""Every training option is documented, settable from the command line and from a YAML file, and
examples/train.yaml and docs/options.md, generated from the config fields, list them all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gesturegan.classifier.config import ClassifierConfig
from gesturegan.cli import build_parser, main
from gesturegan.config import (
    from_dict,
    leaf_fields,
    load_yaml,
    options,
    overrides_from,
    show_value,
    to_dict,
)
from gesturegan.errors import UserError
from gesturegan.evaluation.study import StudyConfig
from gesturegan.models import saved_config
from gesturegan.reference import OPTIONS_DOC, TRAIN_EXAMPLE, options_markdown, train_example
from gesturegan.training.config import OPTION_HELP, TrainConfig, make_config, resume_config

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / TRAIN_EXAMPLE
OPTIONS = [name for name, _, _ in leaf_fields(TrainConfig)]
# Options with a hand-written flag in `gesturegan train`.
OWN_FLAGS = {
    "data": "--data",
    "preset": "--preset",
    "model": "--model",
    "repr": "--repr",
    "seed": "--seed",
    "steps": "--steps",
    "minutes": "--minutes",
    "until_plateau_minutes": "--until-plateau",
}


def _flat(tree: dict) -> dict:
    """``{"pgan": {"z_dim": 1}}`` → ``{"pgan.z_dim": 1}`` for the nested model configs."""
    nested = {name.split(".")[0] for name in OPTIONS if "." in name}
    out = {}
    for key, value in tree.items():
        if key in nested:
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def test_example_config_lists_every_option_with_its_default():
    # Generated from the config fields (`python -m gesturegan.reference` rewrites it).
    assert EXAMPLE.read_text(encoding="utf-8") == train_example()
    raw = _flat(load_yaml(EXAMPLE))
    assert sorted(raw) == sorted(OPTIONS)
    defaults = {name: default for name, _, default in leaf_fields(TrainConfig)}
    assert raw == defaults
    assert make_config(None, str(EXAMPLE)) == TrainConfig()


def test_options_page_is_generated_from_the_config_fields():
    assert (ROOT / OPTIONS_DOC).read_text(encoding="utf-8") == options_markdown()
    for name in [*OPTIONS, *(n for n, _, _ in leaf_fields(ClassifierConfig))]:
        assert f"| `{name}` |" in options_markdown()


@pytest.mark.parametrize("cls", [TrainConfig, ClassifierConfig, StudyConfig])
def test_every_option_is_declared_with_a_sentence(cls):
    # A field declared without config.option() would show up blank in --help and docs/options.md.
    blank = [o.name for o in options(cls) if len(o.help) < 10]
    assert not blank, f"declare these with option(default, help): {blank}"


def test_every_option_has_help_and_a_flag(capsys):
    assert sorted(OPTION_HELP) == sorted(OPTIONS)
    assert all(len(text) > 10 for text in OPTION_HELP.values())
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for name in OPTIONS:
        flag = OWN_FLAGS.get(name, "--" + name.replace("_", "-"))
        assert flag in out, flag


def test_command_line_options_override_the_config_file(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("minutes: 120\nlr: 0.001\npgan: {z_dim: 64, channel_max: 32}\n")
    args = build_parser().parse_args(
        ["train", "--out", "run", "--steps", "50", "--lr", "0.01", "--batch-size", "16"]
        + ["--betas", "0.5,0.9", "--augment", "off", "--pgan.kernels", "time"]
        + ["--pgan.z-dim", "96", "--repr-options", "{n_mels: 64}"]
    )
    overrides = {**overrides_from(args), "steps": args.steps}
    cfg = make_config("data", str(path), overrides)
    assert (cfg.lr, cfg.batch_size, cfg.betas, cfg.augment) == (0.01, (16,), (0.5, 0.9), "off")
    assert (cfg.pgan.z_dim, cfg.pgan.channel_max, cfg.pgan.kernels) == (96, 32, "time")
    assert cfg.repr_options == {"n_mels": 64}
    # A budget on the command line replaces the file's instead of adding a second limit.
    assert (cfg.steps, cfg.minutes) == (50, None)


CHOICES = [
    (TrainConfig, "model", "gan"),
    (TrainConfig, "batch", "big"),
    (TrainConfig, "loss", "hinge"),
    (TrainConfig, "augment", "always"),
    (TrainConfig, "precision", "fp8"),
    (TrainConfig, "pgan.g_pad", "reflect"),
    (TrainConfig, "pgan.g_out", "tanh"),
    (StudyConfig, "models", ["pgan", "gan"]),
    (StudyConfig, "augment", ["off", "always"]),
]


@pytest.mark.parametrize(("cls", "name", "bad"), CHOICES)
def test_a_word_outside_an_options_choices_is_refused_in_one_line(cls, name, bad):
    (opt,) = [o for o in options(cls) if o.name == name]
    word = bad[-1] if isinstance(bad, list) else bad
    each = "each value " if isinstance(bad, list) else ""
    said = f"{name}: {each}must be {opt.takes}, got {word!r}"
    assert opt.takes == f"one of {', '.join(opt.choices)}" and word not in opt.choices
    data = {"data": ["d"], "minutes": 1} if cls is StudyConfig else {}
    parent, _, leaf = name.rpartition(".")
    data.update({parent: {leaf: bad}} if parent else {name: bad})
    with pytest.raises(UserError, match=re.escape(said)):
        from_dict(cls, data, where="x")
    for good in opt.choices:  # every word it lists is taken
        good_data = {**data, **({parent: {leaf: good}} if parent else {name: good})}
        if isinstance(bad, list):
            good_data[name] = [good]
        from_dict(cls, good_data, where="x")
    if cls is TrainConfig:  # docs/options.md lists the training options
        assert f"| `{name}` | `{show_value(opt.default)}` | {opt.takes} |" in options_markdown()


def test_a_wrong_value_on_the_command_line_names_the_option(capsys):
    assert main(["train", "--data", "d", "--out", "o", "--r1-every", "often"]) == 2
    assert "r1_every: expected a number" in capsys.readouterr().err


def test_resume_may_change_training_options_but_not_the_models():
    saved = to_dict(make_config("d", overrides={"minutes": 10, "pgan": {"kernels": "time"}}))
    cfg = resume_config(saved, {"lr": 0.0005, "steps": 100, "augment": "ada"}, "run")
    assert (cfg.lr, cfg.steps, cfg.minutes, cfg.augment) == (0.0005, 100, None, "ada")
    # Restating the saved values (as `gesturegan study` does) is not a change.
    same = {"model": "pgan", "seed": 0, "pgan": {"kernels": "time"}}
    assert resume_config(saved, same, "run") == resume_config(saved, {}, "run")
    with pytest.raises(UserError, match="pgan: cannot change when resuming"):
        resume_config(saved, {"pgan": {"z_dim": 64}}, "run")
    with pytest.raises(UserError, match="repr, seed: cannot change"):
        resume_config(saved, {"repr": "mel_ifreq", "seed": 1}, "run")


@pytest.mark.parametrize(("option", "now", "then"), [("d_periodicity", True, False),
                                                     ("g_pad", "replicate", "zeros")])
def test_a_run_saved_before_an_option_existed_resumes_as_it_was_trained(option, now, then):
    saved = to_dict(make_config("d", overrides={"minutes": 10}))
    assert saved["pgan"].pop(option) == now  # the default now
    cfg = resume_config(saved, {"minutes": 20}, "run")
    assert getattr(cfg.pgan, option) == then and cfg.minutes == 20
    assert saved_config("pgan", saved["pgan"]) == cfg.pgan  # so does its generator (generation)
    with pytest.raises(UserError, match="pgan: cannot change when resuming"):
        resume_config(saved, {"pgan": {option: now}}, "run")


HEARD = "its worst category heard as asked in 50% of the probe's clips"


@pytest.mark.parametrize(("pick", "heard", "says"), [
    ("heard", 0.5, f"({HEARD}; probe_fd 0.25)"),
    ("probe_fd", 0.5, f"(probe_fd 0.25; {HEARD})"),
    ("heard", -1.0, "(probe_fd 0.25)"),  # not a gesture model: nothing heard
])  # fmt: skip
def test_train_says_which_probe_it_exported_and_the_figure_that_picked_it_first(pick, heard, says):
    from pathlib import Path

    from gesturegan.cli.train import generator_line
    from gesturegan.training.exports import TrainResult

    r = TrainResult(Path("run"), 100, "16x8", 60.0, False, generator_step=90,
                    generator_heard=heard, generator_probe_fd=0.25, pick=pick)  # fmt: skip
    assert generator_line(r) == (
        f"generator.safetensors: step 90, the last stage's best probe {says}"
    )
