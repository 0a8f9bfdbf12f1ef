"""The running jobs of an engine as one dense block of arrays (a column per job), so that a step's progress is a
handful of whole-array operations instead of gathers from and scatters into the job table.

Column ``i`` holds, in the rows of :attr:`RunningSlots.data` (float64):

============ ==========================================================================================
``JOB``      the job's index
``GANG``     its gang size
``CLASS``    its power class
``IVL``      its checkpoint interval [h] (at least 1e-9)
``RATE``     H100-hours of work per running hour on its site's GPUs (checkpoint rate x the GPUs' speed)
``SITE``     the site it runs at
``CELL``     ``SITE x classes + CLASS``: its cell in the engine's busy-GPU count per site and class
``REM``      work left [h] (the job table's ``remaining_h`` while it runs)
``PEND``     overhead still to pay before it progresses [h] (``pending_overhead_h``)
``SINCE``    running time since its last checkpoint [h] (``since_checkpoint_h``)
============ ==========================================================================================

While a job runs its ``REM``, ``PEND`` and ``SINCE`` live here; the engine writes them back to the job table when
the job stops or finishes, and whenever someone reads the table (:meth:`RunningSlots.write_back`). Columns of jobs
that stop or finish are squeezed out at once, so the block is always dense (its order is the order of starts, less
the jobs gone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

JOB, GANG, CLASS, IVL, RATE, SITE, CELL, REM, PEND, SINCE = range(10)
ROWS = 10
#: Rows copied from the per-job table of constants when a job starts (``RATE`` holds the checkpoint rate there and
#: is multiplied by the site's speed on start).
STATIC_ROWS = 5


class RunningSlots:
    """The running jobs' columns (module docstring); ``n`` columns in use.

    Parameters
    ----------
    capacity
        Columns allocated at first; the block doubles when full.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.data = np.zeros((ROWS, max(int(capacity), 1)))
        self.n = 0
        self.pending = 0  # columns with overhead still to pay

    def reserve(self, m: int) -> None:
        """Make room for ``m`` more columns (the block doubles when full)."""
        if self.n + m > self.data.shape[1]:
            grown = np.zeros((ROWS, max(2 * self.data.shape[1], self.n + m)))
            grown[:, : self.n] = self.data[:, : self.n]
            self.data = grown

    def remove(self, columns: NDArray[np.int64]) -> None:
        """Squeeze ``columns`` out (their jobs stopped or finished); the others keep their order."""
        keep = np.ones(self.n, dtype=bool)
        keep[columns] = False
        m = self.n - len(columns)
        self.data[:, :m] = self.data[:, : self.n][:, keep]
        self.n = m
        if self.pending:
            self.count_pending()

    def remove_one(self, column: int) -> None:
        """Squeeze column ``column`` out (its job stopped); the others keep their order."""
        n = self.n
        if self.data[PEND, column] > 0:
            self.pending -= 1
        self.data[:, column : n - 1] = self.data[:, column + 1 : n]
        self.n = n - 1

    def count_pending(self) -> None:
        """Recount the columns with overhead still to pay."""
        self.pending = int(np.count_nonzero(self.data[PEND, : self.n] > 0))

    def column_of(self, job: int) -> int:
        """The column of running job ``job``."""
        return int(np.flatnonzero(self.data[JOB, : self.n] == job)[0])

    def jobs(self) -> NDArray[np.int64]:
        """The running jobs, in column order."""
        return self.data[JOB, : self.n].astype(np.int64)

    def __len__(self) -> int:
        return self.n

    def write_back(
        self, remaining_h: NDArray[np.float64], pending_h: NDArray[np.float64], since_h: NDArray[np.float64]
    ) -> None:
        """Copy the running jobs' work left, overhead to pay and time since a checkpoint into the job table."""
        d = self.data[:, : self.n]
        job = d[JOB].astype(np.int64)
        remaining_h[job] = d[REM]
        pending_h[job] = d[PEND]
        since_h[job] = d[SINCE]


class RunningSource(Mapping[str, NDArray[np.generic]]):
    """The job table as a view of the running jobs reads it: their progress written back first.

    Parameters
    ----------
    source
        The job table's arrays by name (as :class:`~wattbit.sim.policy.JobView` reads them).
    write_back
        Copies the running jobs' progress into ``source["remaining_h"]`` (and the other progress arrays).
    """

    def __init__(self, source: Mapping[str, NDArray[np.generic]], write_back: Callable[[], None]) -> None:
        self._source, self._write_back = source, write_back

    def __getitem__(self, name: str) -> NDArray[np.generic]:
        if name == "remaining_h":
            self._write_back()
        return self._source[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)
