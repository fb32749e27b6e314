"""Which files the studio may touch: everything it serves is resolved here, under a configured root.

A request names a file by a path relative to a root (the runs folder, the data folder, the upload
folder). ``safe_join`` refuses anything that could step outside: ``..`` components, absolute paths,
backslashes, NUL bytes, leftover percent-escapes (a double-encoded ``%252e%252e``), hidden components
(``.studio`` holds the survey database) and symbolic links pointing out of the root.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

# Kinds of files the studio ever shows or plays; anything else under a root stays private.
SERVED_SUFFIXES = frozenset(
    {".png", ".gif", ".jpg", ".jpeg", ".wav", ".flac", ".ogg", ".mp3", ".mp4", ".csv", ".json",
     ".yaml", ".yml", ".md", ".txt"}
)  # fmt: skip


class UnsafePath(ValueError):
    """A requested path that is not a plain relative path inside its root."""


def safe_join(root: Path, rel: str, suffixes: frozenset[str] | None = SERVED_SUFFIXES) -> Path:
    """``root / rel`` resolved, or ``UnsafePath`` when ``rel`` could leave ``root``.

    Parameters
    ----------
    root : the configured folder.
    rel : a POSIX path relative to ``root``, already URL-decoded once (as the web framework does).
    suffixes : file name endings allowed (lower case); None allows any.

    Returns
    -------
    The resolved path; it need not exist.
    """
    if not rel or "\\" in rel or "\x00" in rel or "%" in rel:
        raise UnsafePath(f"refused path {rel!r}")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise UnsafePath(f"refused absolute path {rel!r}")
    for part in pure.parts:
        if part in ("..", ".") or part.startswith("."):
            raise UnsafePath(f"refused path component {part!r}")
    if suffixes is not None and pure.suffix.lower() not in suffixes:
        raise UnsafePath(f"refused file type {pure.suffix or '(none)'!r}")
    base = root.resolve()
    target = (base / pure).resolve()
    if not target.is_relative_to(base):
        raise UnsafePath(f"refused path {rel!r}: it leads outside its folder")
    return target


def without_roots(message: str, roots: dict[str, Path]) -> str:
    """``message`` with every spelling of each root folder (as given, absolute, resolved) replaced
    by its label, e.g. ``{"<runs>": Path("runs")}``: messages never show where files live."""
    spellings = sorted(
        {(str(form), label) for label, root in roots.items()
         for form in (root.resolve(), root.absolute())},
        key=lambda pair: -len(pair[0]),
    )  # fmt: skip
    for spelling, label in spellings:
        message = message.replace(spelling, label)
    return message
