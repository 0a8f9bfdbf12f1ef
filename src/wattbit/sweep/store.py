"""A sweep's results: a Parquet dataset of one file per run, queried with DuckDB.

``DIR/runs/<run_id>.parquet`` holds one row: the run's identity (``run_id``, ``scenario``, ``command``), its axis
values, ``status``/``error``, and every KPI of the run as a column. Each file is written atomically by the process
that drives the sweep as soon as the run's result arrives (workers need no shared disk), so a crash or ``kill -9``
loses only the runs under way, and ``--resume`` skips every run that has its file.

:func:`query` runs SQL on the dataset, exposed as the view ``runs``
(``SELECT policy, avg(carbon_t) FROM runs GROUP BY policy``); files of error rows and of ok rows are read together
(``union_by_name``), missing columns read as NULL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from wattbit.durable import atomic_write_parquet
from wattbit.errors import WattbitInputError

RUNS_DIR = "runs"


def run_path(out_dir: Path, run_id: str) -> Path:
    """Where run ``run_id``'s row is kept."""
    return out_dir / RUNS_DIR / f"{run_id}.parquet"


def write_row(out_dir: Path, row: dict[str, Any]) -> Path:
    """Keep one run's row (its ``run_id`` names the file), atomically."""
    return atomic_write_parquet(run_path(out_dir, str(row["run_id"])), pd.DataFrame([row]), index=False)


def done_ids(out_dir: Path) -> set[str]:
    """The runs whose rows are kept in ``out_dir``."""
    folder = out_dir / RUNS_DIR
    return {p.stem for p in folder.glob("*.parquet")} if folder.is_dir() else set()


def _connect(out_dir: Path) -> duckdb.DuckDBPyConnection:
    if not done_ids(out_dir):
        raise WattbitInputError(
            "no sweep results here (expected runs/*.parquet written by 'wattbit sweep')", path=out_dir / RUNS_DIR
        )
    con = duckdb.connect()
    pattern = str(out_dir / RUNS_DIR / "*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW runs AS SELECT * FROM read_parquet('{pattern}', union_by_name = true)")
    return con


def read_runs(out_dir: Path) -> pd.DataFrame:
    """Every run's row, ordered by ``run_order`` (the sweep's order of runs).

    Raises
    ------
    WattbitInputError
        If ``out_dir`` holds no results.
    """
    con = _connect(out_dir)
    try:
        return con.execute("SELECT * FROM runs ORDER BY run_order").df()
    finally:
        con.close()


def query(out_dir: Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` on the sweep's results (the view ``runs``, one row per run) and return the answer.

    Raises
    ------
    WattbitInputError
        If ``out_dir`` holds no results, or DuckDB refuses the SQL (the message is DuckDB's, with the columns there
        are).
    """
    con = _connect(out_dir)
    try:
        return con.execute(sql).df()
    except duckdb.Error as exc:
        columns = [r[0] for r in con.execute("DESCRIBE runs").fetchall()]
        shown = ", ".join(columns[:40]) + (", ..." if len(columns) > 40 else "")
        raise WattbitInputError(f"the query failed: {exc}. The table is 'runs', with columns: {shown}") from exc
    finally:
        con.close()
