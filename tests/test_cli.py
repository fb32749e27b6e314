"""The command line: verbs listed with one-line help, flags documented, user errors as one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gesturegan.cli import build_parser, main

# Every verb the parser knows, so a new command is covered without editing this list.
VERBS = tuple(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
# The verbs docs/contract.md promises.
CONTRACT_VERBS = {
    *("demo", "corpus", "prepare", "reprs", "roundtrip", "label", "sort", "classifier", "train"),
    *("generate", "morph", "compose", "evaluate", "studio"),
}


def test_the_verbs_of_the_contract_exist():
    assert CONTRACT_VERBS <= set(VERBS)


def test_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for verb in VERBS:
        assert verb in out


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_documents_its_flags(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[verb]  # noqa: SLF001
    for action in sub._actions:  # noqa: SLF001
        for flag in action.option_strings:
            assert flag in out
        if action.option_strings and action.dest != "help":
            assert action.help, f"{verb} {action.option_strings} has no help"


def test_user_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gesturegan.cli",
            "generate",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such run folder" in lines[0]
    assert "Traceback" not in proc.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "gesturegan"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("gesturegan ")


def test_study_option_errors_are_one_line(capsys):
    assert main(["study", "--data", "d", "--seeds", "0,x", "--out", "o"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "gesturegan study: error: --seeds must be whole numbers, got '0,x'"


def test_study_without_data_or_saved_study_is_one_line(capsys, tmp_path):
    assert main(["study", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    expected = "study needs --data (one dataset per library), or --report-only"
    assert err == f"gesturegan study: error: {expected}"
    assert main(["study", "--out", str(tmp_path / "s"), "--report-only"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"gesturegan study: error: {tmp_path / 's'} holds no study (no study.yaml)"
    assert not (tmp_path / "s").exists()
