"""Rendered mixes of the Compose view, cached on disk by what they are made of, bounded in size.

A mix is named by a hash of the score's text, the model's export stamp and the identity (size,
modification time, inode) of each uploaded file the score plays, and of nothing else, so identical
scores render once and an upload replaced under the same name renders anew. When the folder holds
more than ``max_bytes``, the least recently used mixes are deleted, never the one just asked for.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from .. import composition

MAX_MIX_CACHE_BYTES = 512 * 2**20  # a mix is at most 64 MiB (composition.MAX_MIX_FRAMES)


def mix_key(score_text: str, run_stamp: object, files: Iterable[Path]) -> str:
    """16 hex digits naming the mix of ``score_text`` played by a model exported at
    ``run_stamp`` (None without a model) with the uploaded ``files`` it names."""
    digest = hashlib.sha256(score_text.encode("utf-8"))
    digest.update(f"\0run {run_stamp!r}".encode())
    for path in sorted(set(files)):
        st = path.stat()
        digest.update(f"\0{path.name} {st.st_size} {st.st_mtime_ns} {st.st_ino}".encode())
    return digest.hexdigest()[:16]


class MixCache:
    """Mixes ``<key>.wav`` with their sidecars ``<key>.wav.json`` in ``folder``.

    Thread-safe: one lock around the check, the render and the eviction, so concurrent identical
    requests render once and a reader never sees a WAV without its sidecar.
    """

    def __init__(self, folder: Path, max_bytes: int = MAX_MIX_CACHE_BYTES):
        self.folder, self.max_bytes = folder, max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def wav(self, key: str) -> Path:
        """Where the mix ``key`` is (or will be) written."""
        return self.folder / f"{key}.wav"

    def get_or_render(self, key: str, render: Callable[[Path], None]) -> dict:
        """The sidecar of mix ``key``; ``render(wav_path)`` writes the WAV and sidecar when absent."""
        wav = self.wav(key)
        sidecar = composition.sidecar_path(wav)
        with self._lock:
            if not (wav.is_file() and sidecar.is_file()):
                render(wav)
            wav.touch()  # most recently used
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            self._evict(keep=wav)
        return meta

    def _evict(self, keep: Path) -> None:
        mixes = sorted(
            (p.stat().st_mtime_ns, p) for p in self.folder.glob("*.wav") if p.name[0] != "."
        )
        total = sum(p.stat().st_size for _, p in mixes)
        for _, path in mixes:
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            total -= path.stat().st_size
            composition.sidecar_path(path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
