"""MPC against the oracle in every season: two-week windows of japan-2022 and of the 2021 untuned scenario (issue 16).

Usage::

    .venv/bin/python benchmarks/bench_mpc_seasons.py [--windows all|japan-2022|2021] [--pv profile,clear_sky]
                                                     [--policies baseline,mpc,oracle] [--json OUT.json]
    .venv/bin/python benchmarks/bench_mpc_seasons.py --year   # the whole japan-2022 year (slow: run it last)

Per window every policy runs on the same inputs (jobs due inside the window, failures, seed: the scenario's), as
``wattbit bench`` does; ``mpc`` runs once per PV forecast, churn weight and look-ahead variant given (``profile``:
the generic method; ``clear_sky``: the clear-sky-index method of :mod:`wattbit.forecast.clearsky`; churn 0: pauses
and moves are free; ``--look days:short``: the look-ahead for work due after the horizon in days, 0 off, and the
short-history forecasts on or off). Printed per policy: carbon, reduction against baseline, deadline misses,
inference SLO, pauses and migrations; per mpc its share of the oracle's achieved reduction and the oracle's share
of its bound. Not a test: wall times
depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from wattbit.control import make_policy
from wattbit.control.bench import due_in_period, policy_statistics
from wattbit.control.dispatch import DispatchRules
from wattbit.control.history import signals_before
from wattbit.control.mpc import MPCConfig, MPCPolicy
from wattbit.control.oracle import OracleConfig
from wattbit.scenario import load_scenario
from wattbit.scenario.model import with_period
from wattbit.sim.run import collect, make_engine, prepare

REPO = Path(__file__).resolve().parents[1]
WINDOWS = {
    "japan-2022": [
        ("winter", "2022-01-17", "2022-01-31"),
        ("spring", "2022-04-10", "2022-04-24"),
        ("summer", "2022-07-18", "2022-08-01"),
        ("autumn", "2022-10-17", "2022-10-31"),
    ],
    "2021": [("spring", "2021-04-05", "2021-04-19"), ("summer", "2021-07-26", "2021-08-09")],
}
SCENARIOS = {"japan-2022": "japan-2022", "2021": str(REPO / "examples" / "japan-2021-untuned.toml")}
KEYS = (
    "carbon_t",
    "energy_cost",
    "curtailment_absorbed_mwh",
    "deadline_misses",
    "slo_attainment",
    "job_pauses",
    "job_migrations",
    "gpu_hours_served",
)


class PerfectForecastMPC(MPCPolicy):
    """A diagnosis, never a policy: ``mpc`` whose forecasts are the observed future (the oracle's signals).

    Every signal of the horizon (carbon, price, curtailment, PV, wind, weather, inference need) and of the
    look-ahead's days after it is read from the run's own data, so the difference to ``mpc`` is forecast error and
    the difference to the oracle the controller's structure (horizon, terminal value, re-planning, dispatch).
    """

    def __init__(
        self,
        inputs: Any,
        config: MPCConfig,
        areas: tuple[str, ...],
        history: Any = None,
        only: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(config if only else replace(config, pv_forecast="profile"), areas, history)
        self.only = only  # the signals read from the future (None: all); the others forecast as mpc does
        fleet = inputs.fleet
        self.series = {name: np.asarray(getattr(fleet, name), dtype=float) for name in SIGNALS}
        self.series["inference_gpus_needed"] = np.asarray(inputs.inference_gpus_needed, dtype=float)
        if inputs.inference_full_gpus is not None:
            self.series["inference_full_gpus"] = np.asarray(inputs.inference_full_gpus, dtype=float)

    def _future(self, name: str, first: int, count: int) -> Any:
        x = self.series[name]
        rows = np.minimum(np.arange(first, first + count), x.shape[0] - 1)  # past the data's end: its last value
        return x[rows]

    def _ahead(self, obs: Any, name: str, steps: int, per_day: int, upper: bool = False, short: str = "d") -> Any:
        if self.only is not None and name not in self.only:
            return super()._ahead(obs, name, steps, per_day, upper, short)
        return self._future(name, obs.step, steps)

    def _pv_ahead(self, obs: Any, steps: int, per_day: int) -> Any:
        if self.only is not None and "pv_w" not in self.only:
            return super()._pv_ahead(obs, steps, per_day)
        return self._future("pv_w", obs.step, steps)

    def _beyond(self, obs: Any, name: str, first: int, count: int, per_day: int) -> Any:
        if self.only is not None and name not in self.only:
            return super()._beyond(obs, name, first, count, per_day)
        return self._future(name, obs.step + first, count)


SIGNALS = ("carbon_g_per_kwh", "price_jpy_per_mwh", "curtailed_mwh", "temp_db_c", "temp_wb_c", "pv_w", "wind_w")


def _progress(name: str, every: int = 2688) -> Any:
    """A progress callback printing the step every ``every`` steps (four weeks of 15-minute steps)."""
    return lambda k: k % every or print(f"  {name}: step {k} at {time.strftime('%H:%M:%S')}", flush=True)


def _daily(ts: Any, step_h: float) -> dict[str, Any]:
    """Per day (in the data's time zone, rows) and site (columns): grid energy [MWh], its carbon [t] and the GPU-hours
    training ran, for comparing where and when two policies put the work."""
    day = ts["time_utc"].dt.tz_convert("Asia/Tokyo").dt.strftime("%m-%d") if ts["time_utc"].dt.tz else None
    if day is None:
        day = (ts["time_utc"] + np.timedelta64(9, "h")).dt.strftime("%m-%d")
    grid_mwh = ts["grid_w"] * step_h / 1e6
    frame = ts.assign(day=day, grid_mwh=grid_mwh, carbon_t=grid_mwh * ts["carbon_g_per_kwh"] / 1000.0)
    frame = frame.assign(busy_gpu_h=ts["busy_gpus"] * step_h)
    out: dict[str, Any] = {}
    for key in ("grid_mwh", "carbon_t", "busy_gpu_h"):
        table = frame.pivot_table(index="day", columns="site", values=key, aggfunc="sum", observed=True)
        out[key] = {
            "days": list(table.index),
            "sites": [str(c) for c in table.columns],
            "values": table.values.tolist(),
        }
    return out


def run_window(
    scenario: Any,
    start: str | None,
    end: str | None,
    policies: list[str],
    pv: list[str],
    churn: list[float],
    horizon_h: float = 36.0,
    looks: tuple[tuple[float, bool], ...] = ((0.0, False),),
    history_days: tuple[float, ...] = (0.0,),
    time_limit_s: float = 600.0,
    mpc_options: tuple[str, ...] = ("{}",),
    oracle_options: tuple[str, ...] = ("{}",),
) -> dict[str, Any]:
    """Every policy on one window; returns the rows and the oracle's bound.

    ``mpc_options``, ``oracle_options``: JSON objects of further settings per variant (``MPCConfig`` /
    ``OracleConfig`` fields, ``"dispatch"`` an object of ``DispatchRules`` fields); the first oracle variant is the
    one mpc's share is taken of.
    """
    earliest = scenario.period.start
    scenario = with_period(scenario, start, end)
    inputs, _ = due_in_period(prepare(scenario))
    sites = scenario.sites
    histories = {h: signals_before(scenario, h, earliest) for h in history_days}
    rows: dict[str, dict[str, Any]] = {}
    bound = None
    runs: list[tuple[str, Any, str]] = [(p, None, "{}") for p in policies if p not in ("mpc", "oracle")]
    if "mpc" in policies:
        runs += [
            ("mpc", (m, c, d, sh, h), x)
            for x in mpc_options
            for m in pv
            for c in churn
            for d, sh in looks
            for h in history_days
        ]
    if "oracle" in policies:
        runs += [("oracle", None, x) for x in oracle_options]
    for name, variant, extra in runs:
        t0 = time.perf_counter()
        settings = json.loads(extra)
        if "dispatch" in settings:  # else each policy's own default rules
            settings["dispatch"] = DispatchRules(**settings["dispatch"])
        options: dict[str, Any] = {}
        if name == "oracle":
            options = {"config": OracleConfig(**settings)}
        if variant:
            m, c, d, sh, h = variant
            config = MPCConfig(
                pv_forecast=m,
                churn_cost=c,
                horizon_h=horizon_h,
                lookahead_days=d,
                short_history=sh,
                time_limit_s=time_limit_s,
                **settings,
            )
            options = {"config": config, "history": histories[h]}
        if variant and variant[0].startswith("perfect"):  # the diagnosis: mpc on the observed future
            # "perfect" (every signal) or "perfect:pv_w+wind_w" (those only; the others forecast as mpc does)
            only = tuple(variant[0].split(":")[1].split("+")) if ":" in variant[0] else None
            config = replace(options["config"], site_coords=tuple((x.latitude_deg, x.longitude_deg) for x in sites))
            if only:
                config = replace(config, pv_forecast="clear_sky")
            areas = tuple(x.grid_area for x in sites)
            policy: Any = PerfectForecastMPC(inputs, config, areas, options["history"], only)
        else:
            policy = make_policy(name, inputs, **options)
        engine = make_engine(inputs, policy)
        engine.run(_progress(name))
        result = collect(inputs, engine, name, t0)
        label = f"{name}[{m}, churn {c:g}, look {d:g} d, short {int(sh)}, history {h:g} d]" if variant else name
        label += "" if extra == "{}" or (name == "oracle" and extra == oracle_options[0]) else f" {extra}"
        rows[label] = {k: result.summary[k] for k in KEYS} | {"wall_s": time.perf_counter() - t0}
        rows[label]["daily"] = _daily(result.timeseries, inputs.fleet.step_h)
        # re-plans cut off by the solver's time limit make a row depend on the machine's load: record them
        rows[label] |= {k: v for k, v in policy_statistics(policy).items() if k != "bound"}
        planned = getattr(policy, "bound", None)
        if planned:
            bound = float(planned["carbon_t"])
    base = rows.get("baseline", {}).get("carbon_t")
    out: dict[str, Any] = {"policies": rows, "oracle_bound_t": bound}
    if base is not None:
        for row in rows.values():
            row["reduction_t"] = base - row["carbon_t"]
        if bound is not None:
            for label, row in rows.items():
                if label.startswith("oracle"):
                    row["share_of_bound"] = row["reduction_t"] / (base - bound)
        oracle = rows.get("oracle", {}).get("reduction_t")
        for label, row in rows.items():
            if label.startswith("mpc") and oracle:
                row["share_of_oracle"] = row["reduction_t"] / oracle
        if oracle is not None and bound is not None:
            out["oracle_share_of_bound"] = oracle / (base - bound)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="all")
    parser.add_argument("--pv", default="profile,clear_sky")
    parser.add_argument("--policies", default="baseline,mpc,oracle")
    parser.add_argument("--churn", default="0,1", help="mpc's churn_cost weights to run")
    parser.add_argument("--year", action="store_true")
    parser.add_argument("--horizon-h", type=float, default=36.0, help="mpc's planning horizon [h]")
    parser.add_argument(
        "--look",
        default="0:0,7:1",
        help="mpc's look-ahead variants, days:short-history (0:0 is the controller before the look-ahead)",
    )
    parser.add_argument(
        "--history-days",
        default="28",
        help="days of observed signals before a window given to mpc's forecasters (0: none; clipped to the data)",
    )
    parser.add_argument(
        "--time-limit-s",
        type=float,
        default=600.0,
        help="mpc's HiGHS time limit per re-plan [s] (high, so that the KPIs do not depend on the machine's load)",
    )
    parser.add_argument(
        "--mpc-options",
        default="{}",
        help="';'-separated JSON objects of further MPCConfig settings, one mpc variant each (dispatch: DispatchRules)",
    )
    parser.add_argument(
        "--oracle-options",
        default="{}",
        help="';'-separated JSON objects of OracleConfig settings, one oracle variant each (mpc's share: the first)",
    )
    parser.add_argument("--only", default=None, help="run only this season (winter, spring, ...)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    policies, pv = args.policies.split(","), args.pv.split(",")
    churn = [float(c) for c in args.churn.split(",")]
    looks = tuple((float(v.split(":")[0]), v.split(":")[1] == "1") for v in args.look.split(","))
    history_days = tuple(float(h) for h in args.history_days.split(","))
    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    doc: dict[str, Any] = {"machine": machine | {"load_average": os.getloadavg()}, "runs": {}}
    todo: list[tuple[str, str, str | None, str | None]] = [("japan-2022", "year", None, None)] if args.year else [
        (k, season, a, b) for k, ws in WINDOWS.items() if args.windows in ("all", k) for season, a, b in ws
    ]  # fmt: skip
    todo = [t for t in todo if args.only in (None, t[1])]
    for key, season, a, b in todo:
        scenario = load_scenario(SCENARIOS[key])
        res = run_window(
            scenario,
            a,
            b,
            policies,
            pv,
            churn,
            args.horizon_h,
            looks,
            history_days,
            args.time_limit_s,
            tuple(args.mpc_options.split(";")),
            tuple(args.oracle_options.split(";")),
        )
        doc["runs"][f"{key} {season}"] = res
        print(f"== {key} {season} {a}..{b}  bound {res['oracle_bound_t']}  oracle/bound "
              f"{res.get('oracle_share_of_bound')}", flush=True)  # fmt: skip
        for label, row in res["policies"].items():
            print(f"  {label:28s} " + "  ".join(f"{k}={v:.6g}" for k, v in row.items() if k != "daily"), flush=True)
        if args.json:
            args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
