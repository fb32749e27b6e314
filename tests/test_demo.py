"""`gesturegan demo` end to end on a small corpus and a short budget."""

from __future__ import annotations

import pytest
import soundfile as sf

from gesturegan.config import load_yaml
from gesturegan.demo import run_demo


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, steps=12, per_class=8, show_progress=False)
    report = result.report.read_text()
    for cat in ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition"):
        wavs = sorted((out / "samples" / cat).glob("*.wav"))
        assert len(wavs) == 8
        assert f"`{cat}`" in report
    assert sorted((out / "morph").glob("*.wav"))
    data, sr = sf.read(out / "composition.wav", always_2d=True)
    assert sr == 22050 and data.shape[1] == 2 and data.shape[0] > sr
    for fig in ("generated.png", "corpus.png", "envelopes.png", "training.png"):
        assert (out / "figures" / fig).is_file()
    # A step budget, the same model on every machine, of the sketch preset; its few minutes favour
    # more steps over D's periodicity input (see demo.DEMO_MODEL).
    config = load_yaml(out / "run" / "config.yaml")
    assert (config["preset"], config["steps"], config["minutes"]) == ("sketch", 12, None)
    assert config["pgan"]["d_periodicity"] is False and config["repr"] == "logmel_gl"
    # Half the clips per step from 32x32 up, where the steps' time goes (demo.DEMO_BATCH).
    assert config["batch_size"] == [32, 32, 32, 16]
    # A second run reuses everything that is complete.
    again = run_demo(out, steps=12, per_class=8, show_progress=False)
    assert again.seconds < result.seconds
