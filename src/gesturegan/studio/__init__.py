"""``gesturegan studio``: one local web page to browse, listen, generate, morph, compose and run a
blind listening survey.

Modules: ``app`` (FastAPI routes and ``serve``), ``engine`` (runs, datasets, loaded models, clip
cache), ``media`` (WAV bytes, thumbnails), ``videos`` (the Video buttons' routes), ``paths``
(which files may be served), ``guard`` (Host allowlist and session token), ``mixes``
(rendered mixes cached by content, bounded). Surveys are stored by ``gesturegan.survey.store``.
The page itself is ``static/`` (HTML, CSS, vanilla JS).
"""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
