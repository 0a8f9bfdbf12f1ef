"""Files that survive a crash: atomic writes and checkpoints of long runs.

Every result file wattbit writes goes through :func:`atomic_write_bytes` (or its text, JSON and Parquet forms): the
content is written to a temporary file in the same folder, flushed to disk, and renamed over the target in one
step (``os.replace``), so a reader sees either the old file or the whole new one — never half a file, whatever
happens to the writing process (``kill -9``, a full disk, a power cut after the rename is on disk).

A :class:`Checkpoint` holds the state of a long run (a pickle: the engine and its policy with their random
generators, the step index, finished pieces of work) under ``DIR/.checkpoint/`` with a *fingerprint* of what is
being run (scenario, policy, seed, ...). Resuming with another fingerprint is refused with a message naming both, so
a checkpoint is never continued under different inputs.

This module sits at the bottom of the layers (it imports nothing of wattbit but :mod:`wattbit.errors`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wattbit.errors import WattbitInputError

#: Folder of a run's checkpoint inside its output folder.
CHECKPOINT_DIR = ".checkpoint"


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A temporary file name in ``path``'s folder (same file system, so the rename is atomic), removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _commit(tmp: Path, path: Path) -> None:
    _fsync(tmp)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself, on file systems that allow syncing a folder
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, synced, then renamed over it)."""
    target = Path(path)
    with _temporary_beside(target) as tmp:
        tmp.write_bytes(data)
        _commit(tmp, target)
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value: Any, **kwargs: Any) -> Path:
    """Write ``value`` as indented JSON and a newline to ``path`` atomically; ``kwargs`` go to ``json.dumps``."""
    kwargs.setdefault("indent", 2)
    return atomic_write_text(path, json.dumps(value, **kwargs) + "\n")


def atomic_write_parquet(path: str | Path, frame: Any, **kwargs: Any) -> Path:
    """Write a pandas DataFrame to ``path`` as Parquet atomically; ``kwargs`` go to ``DataFrame.to_parquet``."""
    target = Path(path)
    with _temporary_beside(target) as tmp:
        frame.to_parquet(tmp, **kwargs)
        _commit(tmp, target)
    return target


def atomic_write_csv(path: str | Path, frame: Any, **kwargs: Any) -> Path:
    """Write a pandas DataFrame to ``path`` as CSV atomically; ``kwargs`` go to ``DataFrame.to_csv``."""
    target = Path(path)
    with _temporary_beside(target) as tmp:
        frame.to_csv(tmp, **kwargs)
        _commit(tmp, target)
    return target


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-serialisable ``value`` (keys sorted), naming what a checkpoint belongs to."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Checkpoint:
    """The saved state of one long run, in ``out_dir/.checkpoint/``.

    Parameters
    ----------
    out_dir
        The run's output folder (``--out DIR``).
    identity
        What is being run, as a JSON-serialisable mapping (command, scenario, policy, seed, period, ...): stored with
        the checkpoint and compared on resume.

    Notes
    -----
    ``save(name, state)`` pickles ``state`` to ``NAME.pkl`` atomically; ``load(name)`` returns it (or None).
    Pickles are only ever read back from a run's own folder: never resume from a folder someone else wrote.
    """

    def __init__(self, out_dir: str | Path, identity: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.dir = self.out_dir / CHECKPOINT_DIR
        self.identity = identity
        self.key = fingerprint(identity)

    def _manifest(self) -> Path:
        return self.dir / "identity.json"

    def start(self, resume: bool) -> bool:
        """Prepare the checkpoint folder; return whether there is saved state to resume from.

        Without ``resume`` any earlier checkpoint is discarded. With ``resume``, a checkpoint made for another
        identity is an error naming what differs.

        Raises
        ------
        WattbitInputError
            With ``resume``, if ``out_dir`` holds a checkpoint of a different run.
        """
        manifest = self._manifest()
        if not resume:
            self.clear()
        elif manifest.is_file():
            try:
                saved = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
            if saved.get("key") != self.key:
                theirs = saved.get("identity", {})
                differ = sorted(k for k in set(theirs) | set(self.identity) if theirs.get(k) != self.identity.get(k))
                raise WattbitInputError(
                    f"the checkpoint in {self.out_dir} belongs to another run (differs in {differ or 'its format'}); "
                    "run the same command as before with --resume, or drop --resume to start afresh, or choose "
                    "another --out",
                    path=manifest,
                )
            return any(self.dir.glob("*.pkl"))
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(manifest, {"key": self.key, "identity": self.identity}, default=str)
        return False

    def save(self, name: str, state: Any) -> None:
        """Pickle ``state`` as ``name`` atomically."""
        atomic_write_bytes(self.dir / f"{name}.pkl", pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def load(self, name: str) -> Any | None:
        """The state saved as ``name``, or None if there is none.

        Raises
        ------
        WattbitInputError
            If the file cannot be unpickled (written by another wattbit version); the message says to start afresh.
        """
        path = self.dir / f"{name}.pkl"
        if not path.is_file():
            return None
        try:
            return pickle.loads(path.read_bytes())
        except Exception as exc:  # an unpicklable file: another version's classes, or damaged
            raise WattbitInputError(
                f"cannot read the checkpoint ({type(exc).__name__}: {exc}); drop --resume to start afresh",
                path=path,
            ) from exc

    def drop(self, name: str) -> None:
        """Remove the state saved as ``name`` (if any)."""
        (self.dir / f"{name}.pkl").unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove the whole checkpoint folder."""
        if self.dir.is_dir():
            shutil.rmtree(self.dir)
