"""Monte Carlo draws evaluated in chunks, each chunk's outputs checkpointed, so that a killed run resumes.

Draws are sampled in the parent from the root seed (:func:`wattbit.montecarlo.engine.sample_draws`), so a chunk
evaluated before a crash and one evaluated after it hold exactly the numbers an uninterrupted run computes; a resumed
run reads the finished chunks back and evaluates only the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

#: Draws per checkpointed chunk of ``plan --draws`` (a few seconds of work on one core for the example project).
CHUNK_DRAWS = 64


class ChunkStore(Protocol):
    """Where finished chunks are kept (:class:`wattbit.durable.Checkpoint` is one)."""

    def load(self, name: str) -> Any | None:
        """The state saved as ``name``, or None."""
        ...

    def save(self, name: str, state: Any) -> None:
        """Keep ``state`` as ``name``."""
        ...


def evaluate_in_chunks(
    evaluate: Callable[[list[dict[str, float]], int], list[Mapping[str, float]]],
    records: Sequence[dict[str, float]],
    store: ChunkStore | None,
    chunk_draws: int = CHUNK_DRAWS,
) -> list[Mapping[str, float]]:
    """``evaluate`` over ``records`` a chunk of ``chunk_draws`` at a time (``evaluate(chunk, first)``, ``first``
    being the chunk's index among ``records``), each chunk's outputs saved in ``store`` as ``draws-<first>`` and
    taken from there when already saved.

    The records of a chunk are the same on resume (draws depend only on the seed and their index); a saved chunk of
    another length is evaluated again.
    """
    if store is None:
        return evaluate(list(records), 0)
    step = max(int(chunk_draws), 1)
    outputs: list[Mapping[str, float]] = []
    for first in range(0, len(records), step):
        chunk = list(records[first : first + step])
        name = f"draws-{first:09d}"
        saved = store.load(name)
        if not isinstance(saved, list) or len(saved) != len(chunk):
            saved = evaluate(chunk, first)
            store.save(name, saved)
        outputs.extend(saved)
    return outputs
