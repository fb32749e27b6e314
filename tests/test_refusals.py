"""Bad input refused or listed, never a traceback: the folder walk lists what it cannot take (link
loops, unreadable folders, FIFOs, names that are not UTF-8) in errors.csv; options and configs out of
range are one line, exit 2, before any file is written; mismatched shards and datasets refused."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan.cli import main
from gesturegan.dataset import scan as scan_module

SR = 16000


def _tone(path: Path, f: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    sf.write(path, (0.5 * np.sin(2 * np.pi * f * t) * np.exp(-4 * t)).astype(np.float32), SR)
    return path


def tree(folder: Path) -> dict[bytes, str]:
    """Every entry under ``folder`` (names as bytes): content hash of regular files, target of
    links, type and mode of the rest. FIFOs are never opened."""
    out = {}
    for root, dirs, files in os.walk(os.fsencode(folder)):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, os.fsencode(folder))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link {os.readlink(path)!r}"
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[rel] = f"{hashlib.sha1(f.read()).hexdigest()} {st.st_mtime_ns}"
            else:
                out[rel] = f"mode {st.st_mode:o}"
    return out


@pytest.fixture
def hostile(tmp_path, monkeypatch) -> tuple[Path, dict[str, str]]:
    """A folder of two good sounds among what the walk cannot take, and the reason each must get."""
    src = tmp_path / "src"
    _tone(src / "a" / "one.wav")
    _tone(src / "b" / "two.wav", 660.0)
    os.rename(_tone(src / "a" / "tmp.wav"), os.fsencode(src / "a") + b"/caf\xe9.wav")
    os.mkfifo(src / "a" / "pipe.wav")
    os.symlink("self.wav", src / "self.wav")  # a link to itself
    os.symlink("ping", src / "pong")  # two links to each other
    os.symlink("pong", src / "ping")
    os.symlink("..", src / "b" / "up")  # a link back up the tree: visited once, not listed
    _tone(src / "locked" / "hidden_inside.wav")
    os.chmod(src / "locked", 0)
    if os.geteuid() == 0:  # root reads any folder: refuse this one as the kernel would
        real_scandir = os.scandir

        def scandir(path):
            if os.fsdecode(path).endswith("locked"):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(scan_module.os, "scandir", scandir)
    yield src, {
        "a/caf\\xe9.wav": "name is not UTF-8 (bytes 61 2f 63 61 66 e9 2e 77 61 76)",
        "a/pipe.wav": "not a regular file (a FIFO, socket or device)",
        "locked/": "folder not readable (Permission denied)",
        "ping": "symbolic link loop",
        "pong": "symbolic link loop",
        "self.wav": "symbolic link loop",
    }
    os.chmod(src / "locked", 0o755)


def _errors_csv(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file,reason"
    return dict(line.rsplit(",", 1) if '"' not in line else _row(line) for line in lines[1:])


def _row(line: str) -> tuple[str, str]:
    import csv

    (row,) = csv.reader([line])
    return row[0], row[1]


def test_scan_lists_what_it_cannot_take(hostile):
    src, reasons = hostile
    found = scan_module.scan(src)
    assert found.audio == ["a/one.wav", "b/two.wav"]
    assert dict(found.skipped) == reasons


def test_scan_refuses_an_unreadable_source_in_one_line(tmp_path, monkeypatch):
    def scandir(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    monkeypatch.setattr(scan_module.os, "scandir", scandir)
    with pytest.raises(scan_module.UserError, match="cannot read the folder"):
        scan_module.scan(tmp_path)


def test_prepare_lists_the_walks_problems_in_errors_csv(hostile, tmp_path, capsys):
    src, reasons = hostile
    before = tree(src)
    out = tmp_path / "data"
    assert main(["prepare", str(src), str(out), "--labels-from-folders", "--workers", "1"]) == 0
    assert _errors_csv(out / "errors.csv") == reasons
    manifest = (out / "manifest.csv").read_text(encoding="utf-8")
    assert "a/one.wav" in manifest and "b/two.wav" in manifest and "caf" not in manifest
    assert tree(src) == before
    assert "Traceback" not in capsys.readouterr().err


def test_label_and_sort_list_the_walks_problems(hostile, tmp_path, capsys):
    src, reasons = hostile
    before = tree(src)
    assert main(["label", str(src)]) == 0
    err = capsys.readouterr().err
    for name, reason in reasons.items():
        assert f"{name}: skipped ({reason})" in err
    out = tmp_path / "sorted"
    assert main(["sort", str(src), str(out)]) == 0
    assert _errors_csv(out / "errors.csv") == reasons
    sort_csv = (out / "sort.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in sort_csv[1:]] == ["a/one.wav", "b/two.wav"]
    assert tree(src) == before


# ---------------------------------------------------------------- options and configs


def _refused(capsys, argv: list[str], *words: str) -> str:
    """Run the command line; it must exit 2 with one line naming ``words``, and no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"gesturegan {argv[0]}: error: ")
    for word in words:
        assert word in err, err
    return err


BAD_TRAIN_FLAGS = [
    (["--log-every-steps", "0"], "log_every_steps: must be ≥ 1, got 0"),
    (["--checkpoint-every-steps", "0"], "checkpoint_every_steps: must be ≥ 1, got 0"),
    (["--r1-every", "0"], "r1_every: must be ≥ 1, got 0"),
    (["--snapshot-per-class", "0"], "snapshot_per_class: must be ≥ 1, got 0"),
    (["--betas", "[0.5, 1.0]"], "betas: each value must be in [0, 1), got 1.0"),
    (["--betas", "[-0.1, 0.9]"], "betas: each value must be in [0, 1), got -0.1"),
    (["--lr", ".nan"], "lr: expected a finite number, got nan"),
    (["--lr", "0"], "lr: must be > 0, got 0"),
    (["--minutes", "nan"], "minutes: expected a finite number, got nan"),
    (["--minutes", "inf"], "minutes: expected a finite number, got inf"),
    (["--steps", "0"], "steps: must be ≥ 1, got 0"),
    (["--pgan.z-dim", "0"], "pgan.z_dim: must be ≥ 1, got 0"),
    (["--pgan.mbstd-group", "0"], "pgan.mbstd_group: must be ≥ 1, got 0"),
    (["--ema-kimg", "-1"], "ema_kimg: must be ≥ 0, got -1"),
    (["--monitor-every-minutes", "-1"], "monitor_every_minutes: must be ≥ 0, got -1"),
    (["--monitor-every-steps", "0"], "monitor_every_steps: must be ≥ 1, got 0"),
    (["--ada-target", "1.5"], "ada_target: must be in [-1, 1], got 1.5"),
    (["--batch-size", "4,1"], "batch_size: each value must be ≥ 2, got 1"),
    (["--dcgan.channels", "0"], "dcgan.channels: must be ≥ 1, got 0"),
    (["--wavegan.phase-shuffle", "-1"], "wavegan.phase_shuffle: must be ≥ 0, got -1"),
    (["--stage-time-power", "-1"], "stage_time_power: must be ≥ 0, got -1"),
    (["--pgan.g-pad", "reflect"], "pgan.g_pad: must be one of zeros, replicate, got 'reflect'"),
    (["--pgan.g-out", "tanh"], "pgan.g_out: must be one of linear, clip, got 'tanh'"),
    (["--repr", "nope"], "nope"),
]

BAD_TRAIN_YAML = [
    (b"pgan: 5\n", "pgan: expected a mapping, got 5"),
    (b"lr: .nan\n", "lr: expected a finite number, got nan"),
    (b"minutes: .nan\n", "minutes: expected a finite number, got nan"),
    (b"steps: .inf\n", "steps: expected a finite number, got inf"),
    (b"seed: 1.0e+23\n", "seed: must be in [0, 4294967295], got 99999999999999991611392"),
    (b"# r\xe9glages\nlr: 0.01\n", "not UTF-8 text (byte 3)"),
    (b"repr_options: 5\n", "repr_options: expected a mapping, got 5"),
    (b"betas: [0.1]\n", "betas: expected 2 values, got [0.1]"),
    (b"betas: [0.1, 0.2, 0.3]\n", "betas: expected 2 values, got [0.1, 0.2, 0.3]"),
    (b"pgan: {kernel: [3]}\n", "pgan.kernel: expected 2 values, got [3]"),
    (b"pgan: {kernels: [[3]]}\n", "pgan.kernels[0]: expected 2 values, got [3]"),
    (b"pgan: {kernels: {a: 1}}\n", "pgan.kernels: expected a list, got {'a': 1}"),
]


@pytest.mark.parametrize("flags,message", BAD_TRAIN_FLAGS, ids=lambda x: str(x))
def test_train_refuses_a_bad_option_before_writing(tiny_dataset, tmp_path, capsys, flags, message):
    before = tree(tiny_dataset)
    out = tmp_path / "run"
    _refused(capsys, ["train", "--data", str(tiny_dataset), "--out", str(out), *flags], message)
    assert not out.exists()
    assert tree(tiny_dataset) == before


@pytest.mark.parametrize("text,message", BAD_TRAIN_YAML, ids=lambda x: str(x)[:20])
def test_train_refuses_a_bad_config_file_before_writing(tiny_dataset, tmp_path, capsys, text, message):
    config = tmp_path / "train.yaml"
    config.write_bytes(text)
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_dataset), "--out", str(out), "--config", str(config)]
    _refused(capsys, argv, message)
    assert not out.exists()
    assert config.read_bytes() == text


def test_train_refuses_a_folder_that_is_not_a_dataset_and_leaves_no_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "run"
    _refused(capsys, ["train", "--data", str(tmp_path / "empty"), "--out", str(out)], "dataset")
    assert not out.exists()


def test_every_default_is_within_its_bounds_and_the_bounds_are_documented():
    from gesturegan.classifier.config import ClassifierConfig
    from gesturegan.config import check, options
    from gesturegan.evaluation.study import StudyConfig
    from gesturegan.training.config import TrainConfig

    for cfg in (TrainConfig(), ClassifierConfig(), StudyConfig(data=("d",))):
        check(cfg)
    doc = (Path(__file__).parents[1] / "docs" / "options.md").read_text(encoding="utf-8")
    assert "| `log_every_steps` | `10` | ≥ 1 |" in doc
    assert "| `betas` | `[0.0, 0.99]` | in [0, 1) |" in doc
    bounded = [o.name for o in options(TrainConfig) if o.bounds]
    assert {"r1_every", "pgan.z_dim", "pgan.mbstd_group", "ema_kimg", "lr"} <= set(bounded)


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("dropout", 1.0, "classifier.dropout: must be in [0, 1), got 1.0"),
        ("lr", float("nan"), "lr: expected a finite number, got nan"),
        ("max_epochs", 0, "max_epochs: must be ≥ 1, got 0"),
        ("seed", -1, "seed: must be in [0, 4294967295], got -1"),
        ("augment", {"noise_p": 2}, "augment.noise_p: must be in [0, 1], got 2"),
    ],
)
def test_classifier_options_are_bounded_from_yaml_and_python(option, value, message):
    from gesturegan.classifier.config import ClassifierConfig
    from gesturegan.config import from_dict
    from gesturegan.errors import UserError

    with pytest.raises(UserError) as caught:
        from_dict(ClassifierConfig, {option: value}, where="classifier")
    assert message in str(caught.value)
    if not isinstance(value, dict) and value == value:  # built directly, as the Python API does
        with pytest.raises(UserError) as built:
            ClassifierConfig(**{option: value})
        assert message.split(": ", 1)[1] in str(built.value)


def test_study_refuses_a_bad_budget_in_one_line(tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["study", "--data", str(tmp_path), "--out", str(out), "--steps", "0"]
    _refused(capsys, argv, "steps: must be ≥ 1, got 0")
    assert not out.exists()
    _refused(capsys, [*argv[:-2], "--n", "0"], "n: must be ≥ 2, got 0")
    assert not out.exists()


# ---------------------------------------------------------------- merge


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders of four labelled sounds each, the same files under two paths."""
    root = tmp_path_factory.mktemp("merge")
    for name in ("one", "two"):
        for i in range(4):
            _tone(root / name / ("hit" if i % 2 else "tone") / f"{i}.wav", 300.0 + 100 * i)
    (root / "labels.csv").write_text(
        "file,label\n" + "".join(f"one/{'hit' if i % 2 else 'tone'}/{i}.wav,x\n" for i in range(4))
    )
    return root / "one", root / "two"


def _shard(src: Path, out: Path, i: int, *flags: str) -> Path:
    labels = [] if "--labels" in flags else ["--labels-from-folders"]
    argv = ["prepare", str(src), str(out), *labels, "--workers", "1", "--shard", f"{i}/2", *flags]
    assert main(argv) == 0
    return out


MISMATCHES = [
    ("source", lambda one, two: (two, ())),
    ("sr", lambda one, two: (one, ("--sr", "8000"))),
    ("length", lambda one, two: (one, ("--length", "4096"))),
    ("align", lambda one, two: (one, ("--align", "peak"))),
    ("normalize", lambda one, two: (one, ("--normalize", "rms"))),
    ("labels_from", lambda one, two: (one, ("--labels", str(one.parent / "labels.csv")))),
]


@pytest.mark.parametrize("key,second", MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_merge_refuses_shards_that_differ_naming_the_difference(
    two_sources, tmp_path, capsys, key, second
):
    one, two = two_sources
    first = _shard(one, tmp_path / "s1", 1)
    src, flags = second(one, two)
    other = _shard(src, tmp_path / "s2", 2, *flags)
    capsys.readouterr()
    before = tree(tmp_path)
    out = tmp_path / "merged"
    _refused(capsys, ["merge", str(first), str(other), "--out", str(out)], f"{key}=")
    assert not out.exists()
    assert tree(tmp_path) == before  # no partial folder either


def test_merge_refuses_a_shard_of_another_format_version(two_sources, tmp_path, capsys):
    import json

    one, _ = two_sources
    first, other = _shard(one, tmp_path / "s1", 1), _shard(one, tmp_path / "s2", 2)
    info = json.loads((other / "dataset.json").read_text())
    (other / "dataset.json").write_text(json.dumps({**info, "format_version": 1}))
    capsys.readouterr()
    out = tmp_path / "merged"
    _refused(capsys, ["merge", str(first), str(other), "--out", str(out)], "dataset format 1")
    assert not out.exists()


# ---------------------------------------------------------------- resume on other data


@pytest.fixture
def other_dataset(tmp_path) -> Path:
    """A dataset like ``tiny_dataset`` (same classes, rate and length) of other sounds."""
    from gesturegan.dataset import prepare

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "other_src", seed=7)
    prepare(src, tmp_path / "other", labels_from_folders=True, workers=1)
    return tmp_path / "other"


def test_resume_refuses_another_dataset_unless_allowed(
    tiny_run, tiny_dataset, other_dataset, tmp_path, capsys
):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = tree(run)
    argv = ["train", "--out", str(run), "--resume", "--steps", "13", "--data", str(other_dataset)]
    _refused(capsys, argv, "is not the dataset this run was trained on", "--allow-new-data")
    assert tree(run) == before
    assert main([*argv, "--allow-new-data"]) == 0
    capsys.readouterr()  # the new data is the run's own from now on, the old one is not
    assert main(["train", "--out", str(run), "--resume", "--steps", "14"]) == 0
    capsys.readouterr()
    back = ["train", "--out", str(run), "--resume", "--steps", "15", "--data", str(tiny_dataset)]
    _refused(capsys, back, "is not the dataset this run was trained on")


def test_resume_takes_the_same_clips_in_another_folder(tiny_run, tiny_dataset, tmp_path):
    import shutil

    from gesturegan.training import train

    run, moved = tmp_path / "run", tmp_path / "moved_data"
    shutil.copytree(tiny_run, run)
    shutil.copytree(tiny_dataset, moved)
    assert train(run, data=str(moved), overrides={"steps": 13}, resume=True,
                 show_progress=False).step == 13  # fmt: skip


@pytest.mark.parametrize(
    "text,message",
    [
        (b"dropout: 1.0\n", "dropout: must be in [0, 1), got 1.0"),
        (b"lr: .nan\n", "lr: expected a finite number, got nan"),
        (b"augment: 5\n", "augment: expected a mapping, got 5"),
        (b"channels: [8, 0]\n", "channels: each value must be ≥ 1, got 0"),
        (b"# \xff\n", "not UTF-8 text"),
    ],
    ids=lambda x: str(x)[:16],
)
def test_classifier_train_refuses_a_bad_config_before_writing(
    tiny_dataset, tmp_path, capsys, text, message
):
    config = tmp_path / "clf.yaml"
    config.write_bytes(text)
    out = tmp_path / "clf"
    argv = ["classifier", "train", str(tiny_dataset), "--out", str(out), "--config", str(config)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "flag,message",
    [
        (["--budget", "nan"], "minutes: must be a finite number, got nan"),
        (["--budget", "inf"], "minutes: must be a finite number, got inf"),
        (["--seeds", "-1"], "seeds: each value must be in [0, 4294967295], got -1"),
    ],
)
def test_study_built_from_flags_refuses_what_a_yaml_file_would(tmp_path, capsys, flag, message):
    out = tmp_path / "study"
    _refused(capsys, ["study", "--data", str(tmp_path), "--out", str(out), *flag], message)
    assert not out.exists()


# ---------------------------------------------------------------- clip format


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--length", "100000000000"], "length must be 1 to 16777216 samples"),
        (["--sr", "1000000000"], "sr must be 1 to 768000 Hz, got 1000000000"),
    ],
)
def test_corpus_refuses_a_clip_no_memory_holds_before_writing(tmp_path, capsys, flags, message):
    out = tmp_path / "corpus"
    _refused(capsys, ["corpus", str(out), "--per-class", "1", *flags], message)
    assert not out.exists()


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--length", "100000000000"], "length must be 1 to 16777216 samples"),
        (["--sr", "1000000000"], "sr must be 1 to 768000 Hz, got 1000000000"),
        (["--level-db", "nan"], "level_db is in dBFS and must be a finite number ≤ 0, got nan"),
        (["--level-db=-inf"], "level_db is in dBFS and must be a finite number ≤ 0, got -inf"),
        (["--min-duration", "inf"], "min_duration_s must be 0 or more seconds, got inf"),
    ],
)
def test_prepare_refuses_a_bad_clip_format_before_writing(hostile, tmp_path, capsys, flags, message):
    src, _ = hostile
    before = tree(src)
    out = tmp_path / "data"
    _refused(capsys, ["prepare", str(src), str(out), "--workers", "1", *flags], message)
    assert not out.exists() and not list(tmp_path.glob("data*"))  # no .partial either
    assert tree(src) == before
