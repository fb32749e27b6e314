"""Blind listening surveys: stimuli (real, generated, morphs), answers in SQLite, CSV and summary.

A participant hears every stimulus of a survey in an order shuffled for them, and answers three
questions per clip: real or generated? which category? how good (1–5)? Stimuli are written as WAVs
named by random tokens and levelled to one loudness (``loudness``: BS.1770 integrated loudness),
so neither file names, order nor level give the answer away; each has a video (``video``), made
on first use. Remote participants come in by invitation: each invitation is a random token bound
to one survey and one participant id. Every answer is committed to SQLite at once (WAL journal), so a crash or a
restart loses nothing; a participant answering a clip again replaces their earlier answer.
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio
from ..errors import UserError
from . import loudness
from .stats import mean_ci

KINDS = ("real", "generated", "morph")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS surveys (
    id TEXT PRIMARY KEY, created REAL NOT NULL, run TEXT NOT NULL, dataset TEXT NOT NULL,
    categories TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stimuli (
    survey_id TEXT NOT NULL REFERENCES surveys(id), token TEXT NOT NULL,
    kind TEXT NOT NULL, category TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (survey_id, token)
);
CREATE TABLE IF NOT EXISTS answers (
    survey_id TEXT NOT NULL, participant TEXT NOT NULL, token TEXT NOT NULL,
    judged_real INTEGER NOT NULL, category TEXT NOT NULL, rating INTEGER NOT NULL,
    answered REAL NOT NULL,
    PRIMARY KEY (survey_id, participant, token),
    FOREIGN KEY (survey_id, token) REFERENCES stimuli(survey_id, token)
);
CREATE TABLE IF NOT EXISTS invitations (
    token TEXT PRIMARY KEY, survey_id TEXT NOT NULL REFERENCES surveys(id),
    participant TEXT NOT NULL, created REAL NOT NULL, revoked REAL,
    UNIQUE (survey_id, participant)
);
"""
MAX_INVITATIONS = 10_000  # per call of ``invite``
CSV_COLUMNS = [
    "survey", "participant", "stimulus", "kind", "true_category", "detail", "answered_real",
    "answered_category", "rating", "real_correct", "category_correct", "answered_at",
]  # fmt: skip


@dataclass(frozen=True)
class Stimulus:
    """One clip of a survey; ``category`` is the truth ("" for a morph, which has none)."""

    token: str
    kind: str
    category: str
    detail: str


class SurveyStore:
    """Surveys and answers in the SQLite file ``db_path``; stimulus WAVs under ``folder``.

    Safe to use from many threads: every call opens its own connection.
    """

    def __init__(self, db_path: Path, folder: Path):
        self.db_path, self.folder = db_path, folder
        db_path.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()  # SQLite allows one writer; queue them here
        self._video_lock = threading.Lock()  # one encoder at a time: the machine is small
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30.0)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits on success, rolls back on error
                yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ building
    def create(
        self,
        run: str,
        dataset: str,
        categories: list[str],
        clips: list[tuple[str, str, str, np.ndarray]],
        sr: int,
    ) -> str:
        """Store a new survey of ``clips`` (kind, category, detail, wave ``[T]``); returns its id."""
        if not clips:
            raise UserError("a survey needs at least one clip")
        survey_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        folder = self.folder / survey_id
        folder.mkdir(parents=True)
        rows = []
        common = loudness.common_level([wave for *_, wave in clips], sr)
        for kind, category, detail, wave in clips:
            token = secrets.token_hex(6)
            audio.write(folder / f"{token}.wav", loudness.level(wave, sr, common)[0], sr)
            rows.append((survey_id, token, kind, category, detail))
        with self._write_lock, self._connect() as db:
            db.execute(
                "INSERT INTO surveys VALUES (?, ?, ?, ?, ?)",
                (survey_id, time.time(), run, dataset, json.dumps(categories)),
            )
            db.executemany("INSERT INTO stimuli VALUES (?, ?, ?, ?, ?)", rows)
        return survey_id

    # ------------------------------------------------------------------ reading
    def surveys(self) -> list[dict]:
        """Every survey, newest first, with its counts of stimuli, participants and answers."""
        with self._connect() as db:
            rows = db.execute(
                """SELECT s.id, s.created, s.run, s.dataset, s.categories,
                          (SELECT COUNT(*) FROM stimuli t WHERE t.survey_id = s.id) AS n_stimuli,
                          (SELECT COUNT(DISTINCT participant) FROM answers a
                              WHERE a.survey_id = s.id) AS n_participants,
                          (SELECT COUNT(*) FROM answers a WHERE a.survey_id = s.id) AS n_answers
                   FROM surveys s ORDER BY s.created DESC"""
            ).fetchall()
        return [{**dict(r), "categories": json.loads(r["categories"])} for r in rows]

    def survey(self, survey_id: str) -> dict:
        for s in self.surveys():
            if s["id"] == survey_id:
                return s
        raise UserError(f"no survey {survey_id!r}")

    def stimuli(self, survey_id: str) -> list[Stimulus]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT token, kind, category, detail FROM stimuli WHERE survey_id = ? "
                "ORDER BY token",
                (survey_id,),
            ).fetchall()
        if not rows:
            raise UserError(f"no survey {survey_id!r}")
        return [Stimulus(**dict(r)) for r in rows]

    def order_for(self, survey_id: str, participant: str) -> list[str]:
        """The stimulus tokens in this participant's own random order (the same on every visit)."""
        tokens = [s.token for s in self.stimuli(survey_id)]
        random.Random(f"{survey_id}/{participant}").shuffle(tokens)
        return tokens

    def stimulus_file(self, survey_id: str, token: str) -> Path:
        if token not in {s.token for s in self.stimuli(survey_id)}:
            raise UserError(f"no stimulus {token!r} in survey {survey_id!r}")
        return self.folder / survey_id / f"{token}.wav"

    def stimulus_video(self, survey_id: str, token: str) -> Path:
        """The stimulus's video (WebM: spectrogram, envelope, playhead), encoded on first use."""
        from .video import write_video

        wav = self.stimulus_file(survey_id, token)
        path = wav.with_suffix(".webm")
        with self._video_lock:
            if not path.is_file():
                wave, sr = audio.load(wav)
                write_video(path, wave, sr)
        return path

    # ------------------------------------------------------------------ invitations
    def invite(self, survey_id: str, n: int) -> list[tuple[str, str]]:
        """``n`` new invitations to ``survey_id``: ``(participant id, token)`` pairs, committed.

        A token is 128 random bits (``secrets``); participant ids are ``P001``, ``P002``, … in
        the order invited, so a report never shows a token.
        """
        if not 1 <= n <= MAX_INVITATIONS:
            raise UserError(f"--n: invite 1 to {MAX_INVITATIONS} participants at a time, got {n}")
        self.survey(survey_id)
        with self._write_lock, self._connect() as db:
            (count,) = db.execute(  # revoked ones count too: no id is given twice
                "SELECT COUNT(*) FROM invitations WHERE survey_id = ?", (survey_id,)
            ).fetchone()
            rows = [
                (secrets.token_urlsafe(16), survey_id, f"P{count + i + 1:03d}", time.time(), None)
                for i in range(n)
            ]
            db.executemany("INSERT INTO invitations VALUES (?, ?, ?, ?, ?)", rows)
        return [(participant, token) for token, _, participant, _, _ in rows]

    def invitations(self, survey_id: str) -> list[tuple[str, str]]:
        """Every valid invitation to ``survey_id`` as ``(participant id, token)``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT participant, token FROM invitations WHERE survey_id = ? AND revoked IS NULL "
                "ORDER BY created, participant",
                (survey_id,),
            ).fetchall()
        return [(r["participant"], r["token"]) for r in rows]

    def revoke(self, survey_id: str, participant: str) -> None:
        """Withdraw ``participant``'s invitation to ``survey_id``: their link stops working at once;
        the answers they gave stay."""
        with self._write_lock, self._connect() as db:
            gone = db.execute(
                "UPDATE invitations SET revoked = ? WHERE survey_id = ? AND participant = ? "
                "AND revoked IS NULL",
                (time.time(), survey_id, participant),
            ).rowcount
        if not gone:
            raise UserError(f"no valid invitation of {participant!r} to survey {survey_id!r}")

    def invited(self, survey_id: str, token: str) -> str | None:
        """The participant id that ``token`` invites to ``survey_id``; None when it does not."""
        with self._connect() as db:
            row = db.execute(
                "SELECT participant FROM invitations WHERE token = ? AND survey_id = ? "
                "AND revoked IS NULL",
                (token, survey_id),
            ).fetchone()
        return None if row is None else row["participant"]

    def answered(self, survey_id: str, participant: str) -> list[str]:
        """The stimulus tokens ``participant`` has answered so far."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT token FROM answers WHERE survey_id = ? AND participant = ?",
                (survey_id, participant),
            ).fetchall()
        return [r["token"] for r in rows]

    # ------------------------------------------------------------------ answering
    def answer(
        self, survey_id: str, participant: str, token: str, judged_real: bool, category: str,
        rating: int,
    ) -> None:  # fmt: skip
        """Store one answer (replacing this participant's earlier answer to the same clip)."""
        participant = participant.strip()
        if not participant or len(participant) > 64:
            raise UserError("participant: give an id of 1 to 64 characters")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise UserError(f"rating: must be a whole number from 1 to 5, got {rating!r}")
        info = self.survey(survey_id)
        if category not in info["categories"]:
            raise UserError(f"category: {category!r} is not one of {', '.join(info['categories'])}")
        if token not in {s.token for s in self.stimuli(survey_id)}:
            raise UserError(f"stimulus: no clip {token!r} in survey {survey_id!r}")
        with self._write_lock, self._connect() as db:
            db.execute(
                """INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (survey_id, participant, token) DO UPDATE SET
                   judged_real = excluded.judged_real, category = excluded.category,
                   rating = excluded.rating, answered = excluded.answered""",
                (survey_id, participant, token, int(judged_real), category, rating, time.time()),
            )

    def answers(self, survey_id: str) -> list[dict]:
        """Every answer joined with the truth about its stimulus, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                """SELECT a.participant, a.token, s.kind, s.category AS true_category, s.detail,
                          a.judged_real, a.category, a.rating, a.answered
                   FROM answers a JOIN stimuli s
                     ON s.survey_id = a.survey_id AND s.token = a.token
                   WHERE a.survey_id = ? ORDER BY a.answered, a.participant, a.token""",
                (survey_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def csv_text(self, survey_id: str) -> str:
        """All answers as CSV (``CSV_COLUMNS``), truth alongside, one row per answer."""
        self.survey(survey_id)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for a in self.answers(survey_id):
            real_correct = int(bool(a["judged_real"]) == (a["kind"] == "real"))
            cat_correct = "" if not a["true_category"] else int(a["category"] == a["true_category"])
            w.writerow([
                survey_id, a["participant"], a["token"], a["kind"], a["true_category"],
                a["detail"], "real" if a["judged_real"] else "generated", a["category"],
                a["rating"], real_correct, cat_correct,
                time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(a["answered"])),
            ])  # fmt: skip
        return buf.getvalue()

    def summary(self, survey_id: str) -> dict:
        """Results: per kind and per category, with 95 % confidence intervals of the means.

        ``by_kind[kind]``: answers, share judged real, mean rating (and CI). ``by_category[c]``:
        over real and generated clips of category ``c``, accuracy of the real-or-generated answer
        and of the category answer. ``overall``: the same over all clips with a true category.
        """
        info = self.survey(survey_id)
        rows = self.answers(survey_id)
        by_kind = {}
        for kind in KINDS:
            mine = [r for r in rows if r["kind"] == kind]
            if not mine:
                continue
            by_kind[kind] = {
                "answers": len(mine),
                "judged_real": mean_ci([float(r["judged_real"]) for r in mine]),
                "rating": mean_ci([float(r["rating"]) for r in mine]),
            }
        by_category = {}
        for cat in info["categories"]:
            mine = [r for r in rows if r["true_category"] == cat]
            if mine:
                by_category[cat] = _accuracies(mine)
        scored = [r for r in rows if r["true_category"]]
        return {
            "survey": survey_id,
            "participants": len({r["participant"] for r in rows}),
            "answers": len(rows),
            "overall": _accuracies(scored) if scored else None,
            "by_kind": by_kind,
            "by_category": by_category,
        }


def _accuracies(rows: list[dict]) -> dict:
    return {
        "answers": len(rows),
        "real_or_generated": mean_ci(
            [float(bool(r["judged_real"]) == (r["kind"] == "real")) for r in rows]
        ),
        "category": mean_ci([float(r["category"] == r["true_category"]) for r in rows]),
    }


def pick_clips(
    gen, dataset, n_real: int, n_generated: int, n_morph: int, seed: int, lock: threading.Lock
) -> list[tuple[str, str, str, np.ndarray]]:
    """Survey clips ``(kind, category, detail, wave [T])``: categories taken in turn.

    Real clips are drawn at random from the dataset's clips of each category, generated ones from
    random latents; a morph is the midpoint between two different categories (its truth is
    "neither", so it is scored only for real-or-generated and rating).
    """
    for name, n in (("real", n_real), ("generated", n_generated), ("morphs", n_morph)):
        if not 0 <= n <= 200:
            raise UserError(f"{name}: choose 0 to 200 clips, got {n}")
    cats = list(gen.categories)
    if not cats:
        raise UserError("a survey needs a class-conditional run (this one has no categories)")
    if dataset.sr != gen.sr or dataset.length != gen.length:
        raise UserError(
            f"dataset clips ({dataset.sr} Hz, {dataset.length} samples) differ from the model's "
            f"({gen.sr} Hz, {gen.length}); pick the dataset the run was trained on"
        )
    rng = random.Random(seed)
    clips: list[tuple[str, str, str, np.ndarray]] = []
    real_cats = [c for c in cats if c in dataset.label_names]
    if n_real and not real_cats:
        raise UserError("the dataset has none of the run's categories; pick its training data")
    for i in range(n_real):
        cat = real_cats[i % len(real_cats)]
        ids = np.flatnonzero(dataset.label_ids == dataset.label_names.index(cat))
        idx = int(ids[rng.randrange(len(ids))])
        clips.append(("real", cat, f"clip {idx}", np.array(dataset.waves[idx])))
    for i in range(n_generated):
        cat, z = cats[i % len(cats)], rng.randrange(1_000_000)
        with lock:
            wave = gen.sample(cat, z)
        clips.append(("generated", cat, f"seed {z}", wave))
    if n_morph and len(cats) < 2:
        raise UserError("morphs need a run with at least two categories")
    for _ in range(n_morph):
        a, b = rng.sample(cats, 2)
        z = rng.randrange(1_000_000)
        with lock:
            wave = gen.morph(a, b, 3, z)[1]
        clips.append(("morph", "", f"{a} -> {b} midpoint, seed {z}", wave))
    return clips
