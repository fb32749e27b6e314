"""The studio's video routes: a generated clip, a morph, a run's growth, a mix (with its timeline
of events), a survey stimulus.

Each video is encoded on request (``survey.video``, WebM: VP9 + Opus; about 0.2 s for a one-second
clip) into a temporary folder of the studio's state and sent as a download; nothing is kept, so
nothing grows. A survey stimulus's video is the one participants see (kept beside its WAV).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, Response

from ..composition.score import MAX_SEED
from ..survey import sources
from ..survey.store import SurveyStore
from ..survey.video import write_video
from .engine import Engine
from .mixes import MixCache

Seed = Annotated[int, Query(ge=0, le=MAX_SEED)]
_MIX_KEY = re.compile(r"[0-9a-f]{16}")  # ``mixes.mix_key``: never a path


def add_video_routes(
    app: FastAPI, engine: Engine, store: SurveyStore, mixes: MixCache, scratch: Path
) -> None:
    """Add ``/api/runs/{run}/sample.webm``, ``…/morph.webm``, ``…/growth.webm``,
    ``/api/mixes/{key}.webm`` and ``/api/surveys/{id}/stimuli/{token}.webm`` to ``app``; videos
    are made under ``scratch``."""
    scratch.mkdir(parents=True, exist_ok=True)

    def send(make, name: str) -> Response:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            path = make(Path(tmp) / "video.webm")
            data = path.read_bytes()
        return Response(data, media_type="video/webm",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

    @app.get("/api/runs/{run}/sample.webm")
    def sample_video(
        run: str, category: str | None = None, seed: Seed = 0, stage: str | None = None
    ) -> Response:
        wave = engine.sample(run, category or None, seed, stage or None)
        sr = engine.generator(engine.run(run).path).sr
        name = f"{category or 'sample'}_seed{seed}" + (f"_{stage}" if stage else "") + ".webm"
        return send(lambda out: write_video(out, sources.levelled(wave, sr), sr), name)

    @app.get("/api/runs/{run}/morph.webm")
    def morph_video(
        run: str,
        start: Annotated[str, Query(alias="from")],
        end: Annotated[str, Query(alias="to")],
        seed: Seed = 0,
    ) -> Response:
        gen = engine.generator(engine.run(run).path)
        with engine.render_lock():
            return send(lambda out: sources.morph_video(gen, start, end, out, seed=seed),
                        f"morph_{start}_to_{end}_seed{seed}.webm")  # fmt: skip

    @app.get("/api/runs/{run}/growth.webm")
    def growth_video(run: str) -> Response:
        path = engine.run(run).path
        return send(lambda out: sources.growth_video(path, out), f"{run}_growth.webm")

    @app.get("/api/mixes/{key}.webm")
    def mix_video(key: str) -> Response:
        wav = mixes.wav(key)
        if not _MIX_KEY.fullmatch(key) or not wav.is_file():
            raise HTTPException(404, f"no mix {key}")
        return send(lambda out: sources.clip_video(wav, out), f"mix-{key}.webm")

    @app.get("/api/surveys/{survey_id}/stimuli/{token}.webm")
    def stimulus_video(survey_id: str, token: str) -> FileResponse:
        return FileResponse(store.stimulus_video(survey_id, token), media_type="video/webm")
