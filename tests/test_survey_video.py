"""Videos of sounds: BS.1770 loudness and levelling, and what a stimulus video holds once decoded.

The production encoding (WebM: VP9 + Opus) is lossy, so its audio is compared at 48 kHz with the
levelled clip by correlation at lag 0 (measured 0.99996 for a decaying tone and 0.993 for a noise
burst at 128 kbit/s; pinned at 0.999 and 0.98). The lossless mode (Matroska + FLAC, the clip's
own rate) must give the levelled clip back to the 16-bit sample.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

av = pytest.importorskip("av")

from gesturegan.cli import main  # noqa: E402
from gesturegan.survey import loudness, sources  # noqa: E402
from gesturegan.survey.store import SurveyStore  # noqa: E402
from gesturegan.survey.video import OPUS_SR, VideoConfig, write_video  # noqa: E402

SR = 16000


def tone(seconds: float = 1.3, sr: int = SR, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t) * np.exp(-2 * t)).astype(np.float32)


def noise_burst(seconds: float = 1.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    return (0.2 * rng.standard_normal(len(t)) * np.exp(-3 * t)).astype(np.float32)


def decode(path) -> tuple[dict, np.ndarray]:
    """Codecs, duration and video frame count of ``path``, and its decoded audio ``[C, T]``."""
    with av.open(str(path)) as c:
        streams = {s.type: s.codec_context.name for s in c.streams}
        counts = {s.type: 0 for s in c.streams}
        assert len(c.streams) == 2
        duration = c.duration / 1e6
    with av.open(str(path)) as c:
        chunks = []
        for f in c.decode(audio=0):
            a = f.to_ndarray()
            chunks.append(a.astype(np.float32) / 32768.0 if a.dtype == np.int16 else a)
    with av.open(str(path)) as c:
        counts["video"] = sum(1 for _ in c.decode(video=0))
    return {"codecs": streams, "duration": duration, **counts}, np.concatenate(chunks, axis=1)


def test_k_weighting_is_the_standards_at_48k():
    (b1, a1), (b2, a2) = loudness.k_weighting(48000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("sr", [48000, 22050])
def test_full_scale_1khz_sine_is_minus_3_lufs(sr):
    t = np.arange(4 * sr) / sr
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LKFS; -20 dB lower reads 20 LU less
    assert loudness.integrated_lufs(np.sin(2 * np.pi * 1000 * t), sr) == pytest.approx(-3.01, abs=0.05)
    quiet = 0.1 * np.sin(2 * np.pi * 1000 * t)
    assert loudness.integrated_lufs(quiet, sr) == pytest.approx(-23.01, abs=0.05)
    assert loudness.integrated_lufs(np.zeros(sr), sr) == -math.inf


def test_levelled_clips_share_one_loudness_and_none_clips():
    clips = [tone(), noise_burst(), 0.01 * tone(f=3000.0), 0.9 * np.sign(tone())]
    common = loudness.common_level(clips, SR)
    assert common <= loudness.TARGET_LUFS
    for clip in clips:
        out, _ = loudness.level(clip, SR, common)
        assert loudness.integrated_lufs(out, SR) == pytest.approx(common, abs=1e-6)
        assert loudness.peak_db(out) <= loudness.PEAK_CEILING_DB + 1e-6
    silent, gain = loudness.level(np.zeros(100, np.float32), SR, common)
    assert gain == 0.0 and not silent.any()


def test_stimulus_video_has_one_vp9_and_one_opus_stream_of_the_clips_duration(tmp_path):
    clip = tone(1.3)
    path = write_video(tmp_path / "s.webm", clip, SR)
    info, audio = decode(path)
    assert info["codecs"] == {"video": "vp9", "audio": "opus"}
    assert info["video"] == math.ceil(1.3 * 25)  # frames: duration rounded up to whole frames
    assert info["duration"] == pytest.approx(1.3, abs=1 / 25)
    # Opus codes whole 20 ms frames: the decoded audio is the clip, plus at most one frame
    assert 0 <= audio.shape[1] - 1.3 * OPUS_SR <= 960
    with av.open(str(path)) as c:  # no name, kind or category rides along in the metadata
        assert set(c.metadata) <= {"encoder", "ENCODER"}


def test_lossless_video_audio_is_the_levelled_clip_sample_for_sample(tmp_path):
    clip = sources.levelled(noise_burst(), SR)
    path = write_video(tmp_path / "s.mkv", clip, SR, lossless=True)
    info, audio = decode(path)
    assert info["codecs"] == {"video": "vp9", "audio": "flac"}
    expected = np.round(np.clip(clip, -1, 1) * 32767.0) / 32768.0
    np.testing.assert_array_equal(audio[0], expected.astype(np.float32))


@pytest.mark.parametrize(("make", "min_corr"), [(tone, 0.999), (noise_burst, 0.98)])
def test_opus_audio_matches_the_levelled_clip_within_codec_tolerance(tmp_path, make, min_corr):
    import soxr

    clip = sources.levelled(make(), SR)
    _, audio = decode(write_video(tmp_path / "s.webm", clip, SR))
    ref = soxr.resample(clip, SR, OPUS_SR, quality="VHQ")
    got = audio[0, : len(ref)]
    lags = range(-200, 201)
    best = max(lags, key=lambda lag: float(np.dot(np.roll(got, -lag), ref)))
    assert best == 0  # in time with the picture: no codec delay left over
    assert np.corrcoef(got, ref)[0, 1] >= min_corr
    assert np.sqrt(np.mean(got**2)) == pytest.approx(np.sqrt(np.mean(ref**2)), rel=0.05)


def test_a_survey_stimulus_video_carries_the_stored_levelled_clip(tmp_path):
    store = SurveyStore(tmp_path / "s.sqlite", tmp_path / "surveys")
    sid = store.create("run", "data", ["hit", "tone"],
                       [("real", "hit", "clip 0", tone()), ("generated", "tone", "seed 1",
                                                            0.05 * noise_burst())], SR)  # fmt: skip
    waves = []
    for s in store.stimuli(sid):
        wav, sr = sf.read(store.stimulus_file(sid, s.token), dtype="float32")
        waves.append(wav)
        video = store.stimulus_video(sid, s.token)
        assert video.name == f"{s.token}.webm" and video.stat().st_size > 0
        info, _ = decode(video)
        assert info["duration"] == pytest.approx(len(wav) / sr, abs=1 / 25)
    # both stimuli at one loudness, whatever level they came at
    levels = [loudness.integrated_lufs(w, SR) for w in waves]
    assert levels[0] == pytest.approx(levels[1], abs=0.05)


def test_video_cli_films_a_clip_and_a_mix_with_its_timeline(tmp_path, capsys):
    sf.write(tmp_path / "clip.wav", tone(), SR)
    assert main(["video", str(tmp_path / "clip.wav"), "--out", str(tmp_path / "clip.webm")]) == 0
    assert decode(tmp_path / "clip.webm")[0]["codecs"] == {"video": "vp9", "audio": "opus"}
    stereo = np.stack([tone(2.0), noise_burst(2.0)], axis=1)
    sf.write(tmp_path / "mix.wav", stereo, SR)
    events = [{"kind": "gesture", "at_s": 0.0, "duration_s": 1.0},
              {"kind": "file", "at_s": 0.5, "duration_s": 1.5}]  # fmt: skip
    (tmp_path / "mix.wav.json").write_text(json.dumps({"events": events}))
    assert main(["video", str(tmp_path / "mix.wav"), "--out", str(tmp_path / "mix.webm")]) == 0
    info, audio = decode(tmp_path / "mix.webm")
    assert audio.shape[0] == 2 and info["duration"] == pytest.approx(2.0, abs=1 / 25)
    assert main(["video", str(tmp_path / "clip.wav"), "--out", str(tmp_path / "x.mp4")]) == 2
    assert main(["video", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.webm")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_timeline_puts_overlapping_events_in_separate_lanes():
    events = [{"kind": "gesture", "at_s": 0.0, "duration_s": 1.0},
              {"kind": "morph", "at_s": 0.5, "duration_s": 1.0}]  # fmt: skip
    img = sources.timeline(events, 2.0, 200, 40)
    background = np.array([18, 18, 24])
    upper, lower = img[8], img[30]  # one row through each lane
    assert (upper[10] != background).any() and (upper[150] == background).all()
    assert (lower[10] == background).all() and (lower[100] != background).any()


def test_growth_video_shows_each_stage_with_its_audio(tiny_run, tmp_path):
    from gesturegan.runs import Run

    snaps = [s for s in Run.open(tiny_run).snapshots() if s.audio]
    path = sources.video(tiny_run, tmp_path / "growth.webm", config=VideoConfig(fps=10))
    info, _ = decode(path)
    per_stage = [sum(sf.info(w).frames for w in s.audio) / 22050 + sources.GAP_S * len(s.audio)
                 for s in snaps]  # fmt: skip
    assert info["duration"] == pytest.approx(sum(per_stage), abs=0.1)


@pytest.mark.slow
def test_studio_video_buttons_and_a_participant_reach_their_videos(tiny_run, tiny_dataset, tmp_path):
    from fastapi.testclient import TestClient

    from gesturegan.studio import create_app

    app = create_app(tiny_run.parent, tiny_dataset, tmp_path / "state")
    client = TestClient(app, base_url="http://127.0.0.1:7860",
                        headers={"x-studio-token": app.state.token})  # fmt: skip
    run = tiny_run.name
    for url in (f"/api/runs/{run}/sample.webm?category=hit&seed=3",
                f"/api/runs/{run}/morph.webm?from=hit&to=tone&seed=1",
                f"/api/runs/{run}/growth.webm"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "video/webm", url
        (tmp_path / "v.webm").write_bytes(r.content)
        assert decode(tmp_path / "v.webm")[0]["codecs"] == {"video": "vp9", "audio": "opus"}
    score = "events:\n  - {at: 0.0, gesture: hit, seed: 1}\n  - {at: 0.3, gesture: tone, seed: 2}\n"
    mix = client.post("/api/compose", json={"score": f"run: {run}\n" + score}).json()
    r = client.get(mix["wav"].removesuffix(".wav") + ".webm")
    assert r.status_code == 200 and r.headers["content-type"] == "video/webm"
    (tmp_path / "v.webm").write_bytes(r.content)
    info, audio = decode(tmp_path / "v.webm")
    assert audio.shape[0] == 2 and info["duration"] == pytest.approx(mix["duration_s"], abs=1 / 25)
    for bad in ("0123456789abcdef", "..%2f..%2fsurvey", "x"):
        assert client.get(f"/api/mixes/{bad}.webm").status_code in (403, 404)
    assert not any((tmp_path / "state" / "videos").iterdir())  # nothing kept
    built = client.post("/api/surveys", json={"run": run, "dataset": tiny_dataset.name,
                                              "real": 1, "generated": 1, "morphs": 0}).json()
    link = next(s["participant_url"] for s in client.get("/api/surveys").json()
                if s["id"] == built["id"])  # fmt: skip
    key = link.split("key=")[1]
    participant = TestClient(app, base_url="http://127.0.0.1:7860")
    order = participant.get(f"/api/surveys/{built['id']}/order?participant=x&key={key}").json()
    video = participant.get(f"/api/surveys/{built['id']}/stimuli/{order['stimuli'][0]}.webm"
                            f"?key={key}")  # fmt: skip
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm"
    assert participant.get(f"/api/runs/{run}/growth.webm?key={key}").status_code == 401
