"""The studio's web app: one page (``static/``) and a JSON/WAV API over the configured folders.

Views and their endpoints:

- Library: ``/api/datasets``, ``/api/datasets/{ds}/clips``, ``…/clips/{id}.wav|.png|/features``
- Runs: ``/api/runs``, ``/api/runs/{run}``, ``/api/runs/{run}/metrics``, ``/api/files/runs/{path}``
- Generate/morph: ``/api/runs/{run}/sample.wav|.png|.webm``, ``/api/runs/{run}/morph.wav|.png|.webm``,
  ``/api/runs/{run}/growth.webm`` (videos: ``videos``)
- Compose: ``/api/compose/validate``, ``/api/compose``, ``/api/mixes/{name}``, ``/api/uploads``
- Survey: ``/api/surveys``, ``/api/surveys/{id}/…`` (order, stimuli, answers, CSV, summary)

User mistakes come back as 422 with ``{"detail": "<one line naming the field>"}``; paths that would
leave a configured folder as 403; oversized bodies as 413. Requests from another host or without the
session token never reach a route (``guard``: 403, 401). Messages never show an absolute path.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from .. import audio, composition, gestures
from ..composition.score import MAX_SEED
from ..errors import UserError
from ..runs import Run
from ..survey import store as survey_mod
from .engine import MORPH_POSITIONS, Engine
from .guard import TOKEN_QUERY, Guard, load_secret, new_token, participant_key
from .media import thumbnail_png, wav_bytes
from .mixes import MixCache, mix_key
from .paths import UnsafePath, safe_join, without_roots
from .videos import add_video_routes

STATIC = Path(__file__).parent / "static"
MAX_SCORE_CHARS = 64_000  # a score is text; anything longer is a mistake or an attack
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # one sound file for a score's ``file:`` events
MAX_UPLOADS_BYTES = 256 * 1024 * 1024  # all uploads together; delete some to make room
UPLOAD_SUFFIXES = frozenset(audio.AUDIO_EXTENSIONS)
_SCORE_NAME = "score.yaml"  # how messages name the edited score


# Seeds are 32-bit everywhere (scores, CLI, studio), so one seed names one latent.
Seed = Annotated[int, Query(ge=0, le=MAX_SEED)]


class ScoreBody(BaseModel):
    score: str = Field(max_length=MAX_SCORE_CHARS)


class SurveyBody(BaseModel):
    run: str
    dataset: str
    real: int = 3
    generated: int = 3
    morphs: int = 1
    seed: int = Field(0, ge=0, le=MAX_SEED)


class AnswerBody(BaseModel):
    participant: str
    stimulus: str
    real: bool
    category: str
    rating: int


def create_app(
    runs: str | Path = ".",
    data: str | Path | None = None,
    state: str | Path | None = None,
    token: str | None = None,
    allow_hosts: Sequence[str] = (),
    device: str = "cpu",
) -> FastAPI:
    """Build the studio app.

    Parameters
    ----------
    runs : folder of training runs (or one run).
    data : folder of datasets (or one dataset); default: the runs folder.
    state : where the studio keeps its own files (survey database and stimuli, rendered mixes,
        uploads); default ``<runs>/.studio``. Hidden from every listing and never served as a file.
    token : the session token every request must carry (``guard``); default a new random one,
        in ``app.state.token``.
    allow_hosts : host names served besides the loopback ones (``Host`` header allowlist).
    device : where the models run (``gesturegan.device.resolve``).
    """
    runs_root = Path(runs)
    data_root = Path(data) if data is not None else runs_root
    state_root = Path(state) if state is not None else runs_root / ".studio"
    engine = Engine(runs_root, data_root, device=device)
    store = survey_mod.SurveyStore(state_root / "survey.sqlite", state_root / "surveys")
    uploads = state_root / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    mixes = MixCache(state_root / "mixes")
    upload_lock = threading.Lock()

    app = FastAPI(title="gesturegan studio", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")  # fmt: skip
    app.state.engine, app.state.store, app.state.mixes = engine, store, mixes
    app.state.token = token or new_token()
    secret = load_secret(state_root / "participant.secret")
    app.add_middleware(Guard, token=app.state.token, hosts=allow_hosts, secret=secret)
    roots = {"<runs>": runs_root, "<data>": data_root, "<state>": state_root}

    def public(message: str) -> str:
        return without_roots(message, roots)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError):
        return JSONResponse({"detail": public(str(exc))}, status_code=422)

    @app.exception_handler(UnsafePath)
    async def _unsafe(request: Request, exc: UnsafePath):
        return JSONResponse({"detail": public(str(exc))}, status_code=403)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    # first: ``/api/mixes/{key}.webm`` must come before ``/api/mixes/{name:path}``
    add_video_routes(app, engine, store, mixes, state_root / "videos")

    # ------------------------------------------------------------------ overview
    @app.get("/api/state")
    def state_view() -> dict:
        return {
            "runs_root": str(runs_root.resolve()),
            "data_root": str(data_root.resolve()),
            "runs": [r.to_json() for r in engine.runs().values()],
            "datasets": list(engine.datasets()),
            "morph_positions": MORPH_POSITIONS,
        }

    # ------------------------------------------------------------------ files under the roots
    @app.get("/api/files/{root}/{rel:path}")
    def serve_file(root: str, rel: str) -> FileResponse:
        roots = {"runs": runs_root, "data": data_root}
        if root not in roots:
            raise HTTPException(404, f"unknown folder {root!r}; use runs or data")
        path = safe_join(roots[root], rel)
        if not path.is_file():
            raise HTTPException(404, f"no file {rel}")
        return FileResponse(path)

    # ------------------------------------------------------------------ library
    @app.get("/api/datasets/{name}/clips")
    def clips(
        name: str,
        label: str | None = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 48,
    ) -> dict:
        ds = engine.dataset(name)
        rows = [
            {"id": i, "label": row["label"], "source": row["source"], "peak": row["peak"]}
            for i, row in enumerate(ds.manifest)
            if label in (None, "") or row["label"] == label
        ]
        return {
            "dataset": name,
            "sr": ds.sr,
            "length": ds.length,
            "labels": ds.label_names,
            "total": len(rows),
            "clips": rows[offset : offset + limit],
        }

    def _clip(name: str, clip_id: int) -> tuple[np.ndarray, int]:
        ds = engine.dataset(name)
        if not 0 <= clip_id < len(ds.manifest):
            raise HTTPException(404, f"no clip {clip_id} in {name}")
        return np.array(ds.waves[clip_id]), ds.sr

    @app.get("/api/datasets/{name}/clips/{clip_id}.wav")
    def clip_wav(name: str, clip_id: int) -> Response:
        return _wav(*_clip(name, clip_id), f"{name}-{clip_id}.wav")

    @app.get("/api/datasets/{name}/clips/{clip_id}.png")
    def clip_png(name: str, clip_id: int) -> Response:
        png = engine.thumbs.get_or_make(
            ("clip", name, clip_id), lambda: thumbnail_png(*_clip(name, clip_id))
        )
        return Response(png, media_type="image/png", headers=_CACHE)

    @app.get("/api/datasets/{name}/clips/{clip_id}/features")
    def clip_features(name: str, clip_id: int) -> dict:
        wave, sr = _clip(name, clip_id)
        category, feats = gestures.label(wave, sr)
        return {
            "heard_as": category,
            "explain": gestures.explain(category, feats),
            "features": {k: round(float(v), 4) for k, v in feats.items()},
        }

    # ------------------------------------------------------------------ runs
    @app.get("/api/runs/{run}")
    def run_view(run: str) -> dict:
        info = engine.run(run)
        rel = info.path.resolve().relative_to(runs_root.resolve()).as_posix()
        prefix = "" if rel == "." else rel + "/"
        run_files = Run(info.path)

        def url(path: Path) -> str:
            return prefix + path.relative_to(info.path).as_posix()

        gif = run_files.gif_path
        return {
            **info.to_json(),
            "files_prefix": prefix,
            "progress_gif": url(gif) if gif.is_file() else None,
            "grids": [
                {"stage": s.stage, "png": url(s.grid), "audio": [url(a) for a in s.audio]}
                for s in run_files.snapshots()
            ],
        }

    @app.get("/api/runs/{run}/metrics")
    def metrics(run: str, since: int = -1) -> dict:
        info = engine.run(run)
        return {"run": run, "live": info.live, "rows": Run(info.path).metrics(since)}

    # ------------------------------------------------------------------ generate / morph
    def _stage(stage: str | None) -> str | None:
        return stage or None

    @app.get("/api/runs/{run}/sample.wav")
    def sample_wav(
        run: str, category: str | None = None, seed: Seed = 0, stage: str | None = None,
        download: bool = False,
    ) -> Response:  # fmt: skip
        wave = engine.sample(run, category or None, seed, _stage(stage))
        name = f"{category or 'sample'}_seed{seed}" + (f"_{stage}" if stage else "") + ".wav"
        return _wav(wave, engine.generator(engine.run(run).path).sr, name, download)

    @app.get("/api/runs/{run}/sample.png")
    def sample_png(
        run: str, category: str | None = None, seed: Seed = 0, stage: str | None = None
    ) -> Response:
        wave = engine.sample(run, category or None, seed, _stage(stage))
        sr = engine.generator(engine.run(run).path).sr
        png = engine.thumbs.get_or_make(
            ("sample", run, category, seed, stage), lambda: thumbnail_png(wave, sr)
        )
        return Response(png, media_type="image/png", headers=_CACHE)

    def _morph(run, start, end, position, seed, stage, mode):
        if start is None or end is None:
            raise UserError("from/to: a morph needs two categories")
        return engine.morph_clip(run, start, end, position, seed, _stage(stage), mode)

    @app.get("/api/runs/{run}/morph.wav")
    def morph_wav(
        run: str,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        position: int = 0, seed: Seed = 0, stage: str | None = None, mode: str = "class",
        download: bool = False,
    ) -> Response:  # fmt: skip
        wave = _morph(run, start, end, position, seed, stage, mode)
        name = f"morph_{start}_to_{end}_seed{seed}_pos{position:02d}.wav"
        return _wav(wave, engine.generator(engine.run(run).path).sr, name, download)

    @app.get("/api/runs/{run}/morph.png")
    def morph_png(
        run: str,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        position: int = 0, seed: Seed = 0, stage: str | None = None, mode: str = "class",
    ) -> Response:  # fmt: skip
        wave = _morph(run, start, end, position, seed, stage, mode)
        sr = engine.generator(engine.run(run).path).sr
        key = ("morph", run, start, end, position, seed, stage, mode)
        png = engine.thumbs.get_or_make(key, lambda: thumbnail_png(wave, sr))
        return Response(png, media_type="image/png", headers=_CACHE)

    # ------------------------------------------------------------------ compose
    def _uploaded(rel: str) -> None:
        try:
            path = safe_join(uploads, rel, UPLOAD_SUFFIXES)
        except UnsafePath as exc:
            raise UserError(f"must name an uploaded sound ({exc})") from None
        if not path.is_file():
            raise UserError(f"{rel} is not among the uploaded sounds; upload it first")

    def _score(text: str) -> composition.Score:
        """The edited score, its ``run:`` naming one of the studio's runs and its files uploads."""
        return composition.parse_score(
            text,
            _SCORE_NAME,
            uploads,
            find_run=lambda name: engine.run(name).path,
            check_file=_uploaded,
        )

    @app.post("/api/compose/validate")
    def compose_validate(body: ScoreBody) -> dict:
        score = _score(body.score)
        source = engine.generator(score.run) if score.needs_model and score.run else None
        composition.check_against(score, source)
        composition.check_length(score, source, uploads)
        return {"ok": True, "events": len(score.events)}

    @app.post("/api/compose")
    def compose(body: ScoreBody) -> dict:
        score = _score(body.score)
        # Cached by what the mix is made of: the text, the model's export, the files it plays.
        stamp = Run(score.run).generator_stamp() if score.needs_model and score.run else None
        files = [
            safe_join(uploads, str(e.path), UPLOAD_SUFFIXES)
            for e in score.events
            if isinstance(e, composition.FileEvent)
        ]
        try:
            key = mix_key(body.score, stamp, files)
        except FileNotFoundError:  # deleted since the score was checked
            raise UserError(f"{_SCORE_NAME}: an uploaded sound it plays was just deleted") from None

        def render(out: Path) -> None:
            source = engine.generator(score.run) if score.needs_model else None
            with engine.render_lock():
                mix = composition.render(score, source, uploads)
            composition.save_mix(mix, out, _SCORE_NAME, None)

        sidecar = mixes.get_or_render(key, render)
        return {
            "wav": f"/api/mixes/{key}.wav",
            "duration_s": sidecar["duration_s"],
            "gain_db_applied": sidecar["gain_db_applied"],
            "events": sidecar["events"],
        }

    @app.get("/api/mixes/{name:path}")
    def mix_file(name: str, download: bool = False) -> FileResponse:
        path = safe_join(mixes.folder, name, frozenset({".wav"}))
        if not path.is_file():
            raise HTTPException(404, f"no mix {name}")
        headers = {"Content-Disposition": f'attachment; filename="mix-{name}"'} if download else {}
        return FileResponse(path, media_type="audio/wav", headers=headers)

    @app.get("/api/uploads")
    def upload_list() -> list[str]:
        return sorted(
            p.name for p in uploads.iterdir() if p.is_file() and not p.name.startswith(".")
        )

    @app.put("/api/uploads/{name:path}")
    async def upload(name: str, request: Request) -> dict:
        path = safe_join(uploads, name, UPLOAD_SUFFIXES)
        declared = request.headers.get("content-length")
        too_large = f"file too large: at most {MAX_UPLOAD_BYTES // 2**20} MiB"
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD_BYTES):
            raise HTTPException(413, too_large)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise HTTPException(413, too_large)
            chunks.append(chunk)
        from ..atomic import atomic_path

        with upload_lock:
            others = [p for p in uploads.iterdir() if p.name[0] != "." and p != path]
            if sum(p.stat().st_size for p in others if p.is_file()) + size > MAX_UPLOADS_BYTES:
                raise HTTPException(
                    413,
                    f"the uploads would exceed {MAX_UPLOADS_BYTES // 2**20} MiB together; "
                    "delete some first (DELETE /api/uploads/NAME)",
                )
            with atomic_path(path) as tmp:
                tmp.write_bytes(b"".join(chunks))
                try:
                    audio.info(tmp)  # refuses what is not readable audio (and the temp file goes)
                except UserError:
                    raise UserError(f"{path.name}: not readable audio") from None
        return {"name": path.name, "bytes": size}

    @app.delete("/api/uploads/{name:path}")
    def upload_delete(name: str) -> dict:
        path = safe_join(uploads, name, UPLOAD_SUFFIXES)
        with upload_lock:
            if not path.is_file():
                raise HTTPException(404, f"no upload {name}")
            path.unlink()
        return {"deleted": path.name}

    # ------------------------------------------------------------------ survey
    @app.get("/api/surveys")
    def survey_list() -> list[dict]:
        """The surveys, each with its participant link (the only way in for a participant)."""
        return [
            {**s, "participant_url": f"/?survey={s['id']}&key={participant_key(secret, s['id'])}"}
            for s in store.surveys()
        ]

    @app.post("/api/surveys")
    def survey_build(body: SurveyBody) -> dict:
        info = engine.run(body.run)
        gen = engine.generator(info.path)
        ds = engine.dataset(body.dataset)
        clips_ = survey_mod.pick_clips(
            gen, ds, body.real, body.generated, body.morphs, body.seed, engine.render_lock()
        )
        survey_id = store.create(body.run, body.dataset, list(gen.categories), clips_, gen.sr)
        return store.survey(survey_id)

    @app.get("/api/surveys/{survey_id}/order")
    def survey_order(survey_id: str, participant: str) -> dict:
        info = store.survey(survey_id)
        return {
            "survey": survey_id,
            "participant": participant,
            "categories": info["categories"],
            "stimuli": store.order_for(survey_id, participant),
        }

    @app.get("/api/surveys/{survey_id}/stimuli/{token}.wav")
    def survey_stimulus(survey_id: str, token: str) -> FileResponse:
        return FileResponse(store.stimulus_file(survey_id, token), media_type="audio/wav")

    @app.post("/api/surveys/{survey_id}/answers")
    def survey_answer(survey_id: str, body: AnswerBody) -> dict:
        store.answer(
            survey_id, body.participant, body.stimulus, body.real, body.category, body.rating
        )
        return {"stored": True}

    @app.get("/api/surveys/{survey_id}/answers.csv")
    def survey_csv(survey_id: str) -> PlainTextResponse:
        return PlainTextResponse(
            store.csv_text(survey_id),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="survey-{survey_id}.csv"'},
        )

    @app.get("/api/surveys/{survey_id}/summary")
    def survey_summary(survey_id: str) -> dict:
        return store.summary(survey_id)

    return app


_CACHE = {"Cache-Control": "max-age=3600"}


def _wav(wave: np.ndarray, sr: int, name: str, download: bool = False) -> Response:
    disposition = "attachment" if download else "inline"
    return Response(
        wav_bytes(wave, sr),
        media_type="audio/wav",
        headers={"Content-Disposition": f'{disposition}; filename="{name}"', **_CACHE},
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    runs: str | Path = ".",
    data: str | Path | None = None,
    state: str | Path | None = None,
    allow_hosts: Sequence[str] = (),
    device: str = "cpu",
) -> None:
    """Run the studio until interrupted (uvicorn, one process); models run on ``device``.

    Prints the URL to open, with the session token (a new one each start); the address bound is
    allowed as a host name besides ``allow_hosts`` and the loopback names.
    """
    import uvicorn

    wildcard = host in ("0.0.0.0", "::", "")
    hosts = [*allow_hosts, *([] if wildcard else [host])]
    app = create_app(runs, data, state, allow_hosts=hosts, device=device)
    app.state.engine.warm()
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {host}: anyone who can reach this address and has the URL "
            "below can use the studio" + (" (add --allow-host NAME for the name they will use)"
                                          if wildcard and not allow_hosts else ""),
            file=sys.stderr,
        )  # fmt: skip
    shown = "127.0.0.1" if wildcard else (f"[{host}]" if ":" in host else host)
    print(
        f"gesturegan studio on http://{shown}:{port}/?{TOKEN_QUERY}={app.state.token}\n"
        f"  (runs: {runs}, data: {data or runs}; open this URL: the token is the only login)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
