"""Sweeps: many runs of ``simulate``, ``bench`` or ``plan`` over a grid or a sample of scenario variants, on the
executor interface (:mod:`wattbit.parallel`), one Parquet row per run (:mod:`wattbit.sweep.store`).

The constants below are here, in a module that imports nothing, so that ``wattbit sweep`` can start its workers'
fork server before it imports the sweep machinery itself (both imports then run at once).
"""

import multiprocessing

#: What a worker imports before its first run: the run's modules and the cheaper policies (``mpc``, ``oracle`` and
#: the planner import linopy and the solver on their first run; they are not preloaded, so that the fork server
#: never holds polars' threads when it forks).
WORKER_MODULES = ("wattbit.sweep.runs", "wattbit.control.greedy")
#: A local pool's workers fork from a server that has imported :data:`WORKER_MODULES` (where the platform has one).
LOCAL_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
