"""`gesturegan` verbs: videos of sounds, and running a listening survey with remote participants."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .parsing import add_device, announce


def add_video(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan video` and its flags."""
    p = sub.add_parser(
        "video",
        help="a video of a clip, a mix, a run's growth or a morph (spectrogram, playhead, sound)",
        description="Write a WebM video (VP9 and Opus) showing a sound's spectrogram and envelope "
        "under a moving playhead, the sound levelled to -23 LUFS (lower if it would clip). A sound "
        "file gives its video (a mix from 'gesturegan compose' also its timeline of events); a run "
        "folder gives its growth, each stage's sample grid with that stage's clips, or with "
        "--morph FROM TO a morph between two categories.",
    )
    p.add_argument("source", metavar="CLIP_OR_RUN", help="a sound file or a training run folder")
    p.add_argument("--out", required=True, help="the video to write (.webm)")
    p.add_argument("--morph", nargs=2, metavar=("FROM", "TO"), help="film a morph (run only)")
    p.add_argument("--steps", type=int, default=8, help="morph stops (default 8)")
    p.add_argument("--seed", type=int, default=0, help="morph latent seed (default 0)")
    add_device(p)
    p.set_defaults(func=_video)


def _video(a) -> None:
    from ..survey.sources import video

    if Path(a.out).suffix.lower() != ".webm":
        raise UserError(f"--out {a.out}: the video is WebM; name it .webm")
    if not 2 <= a.steps <= 64:
        raise UserError(f"--steps: choose 2 to 64 morph stops, got {a.steps}")
    device = announce(a.device) if a.morph else "cpu"
    path = video(a.source, a.out, tuple(a.morph) if a.morph else None, a.steps, a.seed, device)
    print(f"wrote {path}")


def add_survey(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan survey list|invite|revoke|serve|report` (surveys are built in the
    studio)."""
    p = sub.add_parser(
        "survey",
        help="listening surveys built in the studio: invite participants, serve, report",
        description="Run a survey built in the studio's Survey view with participants elsewhere: "
        "'invite' makes invitation links, 'serve' serves the participant pages of that one survey "
        "(put it behind a TLS reverse proxy, docs/studio.md), 'report' writes the results.",
    )
    verbs = p.add_subparsers(dest="survey_verb", metavar="VERB", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--runs", default=".", help="the studio's --runs folder (default .)")
        q.add_argument("--state", help="the studio's --state folder (default <runs>/.studio)")

    q = verbs.add_parser("list", help="the surveys with their counts")
    common(q)
    q.set_defaults(func=_list)
    q = verbs.add_parser("invite", help="make invitation links (one per participant)")
    q.add_argument("survey", metavar="SURVEY", help="survey id (see 'gesturegan survey list')")
    q.add_argument("--n", type=int, default=1, help="how many participants to invite (default 1)")
    q.add_argument("--url", default="http://127.0.0.1:8080",
                   help="the address participants will open, e.g. https://survey.example.org")
    common(q)
    q.set_defaults(func=_invite)
    q = verbs.add_parser("revoke", help="withdraw a participant's invitation (answers stay)")
    q.add_argument("survey", metavar="SURVEY", help="survey id")
    q.add_argument("participant", metavar="PARTICIPANT", help="participant id, e.g. P003")
    common(q)
    q.set_defaults(func=_revoke)
    q = verbs.add_parser("serve", help="serve the participant pages of one survey")
    q.add_argument("survey", metavar="SURVEY", help="survey id")
    q.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    q.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    common(q)
    q.set_defaults(func=_serve)
    q = verbs.add_parser("report", help="write the results as Markdown with PNG figures")
    q.add_argument("survey", metavar="SURVEY", help="survey id")
    q.add_argument("--out", required=True, help="folder for report.md, its figures and the CSV")
    common(q)
    q.set_defaults(func=_report)


def _store(a):
    from ..survey.store import SurveyStore

    runs = Path(a.runs)
    state = Path(a.state) if a.state else runs / ".studio"
    if not (state / "survey.sqlite").is_file():
        raise UserError(f"{state}: no survey database here (build a survey in the studio first)")
    return SurveyStore(state / "survey.sqlite", state / "surveys")


def _list(a) -> None:
    for s in _store(a).surveys():
        print(f"{s['id']}  run {s['run']}, {s['n_stimuli']} clips, {s['n_participants']} "
              f"participants, {s['n_answers']} answers")  # fmt: skip


def _invite(a) -> None:
    store = _store(a)
    for participant, token in store.invite(a.survey, a.n):
        print(f"{participant}  {a.url.rstrip('/')}/i/{token}")


def _revoke(a) -> None:
    _store(a).revoke(a.survey, a.participant)
    print(f"revoked {a.participant}'s invitation to survey {a.survey}")


def _serve(a) -> None:
    from ..survey.server import prepare, serve

    store = _store(a)
    n = prepare(store, a.survey)
    invited = len(store.invitations(a.survey))
    print(f"survey {a.survey}: {n} clips, {invited} invitations; serving the participant pages on "
          f"http://{a.host}:{a.port}/i/<token> (nothing else)")  # fmt: skip
    if not invited:
        print("  no invitations yet: make some with 'gesturegan survey invite'")
    serve(store, a.survey, a.host, a.port)


def _report(a) -> None:
    from ..survey.report import write_report

    store = _store(a)
    info = store.survey(a.survey)
    path = write_report(store.csv_text(a.survey), info["categories"], a.out,
                        f"Listening survey {a.survey} (run {info['run']})")  # fmt: skip
    print(f"wrote {path} ({info['n_participants']} participants, {info['n_answers']} answers)")
