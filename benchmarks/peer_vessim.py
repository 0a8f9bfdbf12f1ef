"""The Vessim side of ``bench_peer.py``: one microgrid per site for a year, timed. Runs in the peer's own virtualenv.

Usage (``bench_peer.py`` calls it; it needs only ``vessim`` and numpy, not wattbit)::

    /tmp/peer-venv/bin/python benchmarks/peer_vessim.py INPUT.npz --variant battery-recorder --repeat 1

``INPUT.npz`` holds, per step and site, the facility power and on-site generation [W] of a wattbit run, the site
names, the step [s], the period start and the battery per site (capacity [Wh], C-rate [1/h]). Each microgrid is a
``vessim.Consumer`` replaying the facility power, a ``vessim.Producer`` replaying PV + wind, then (variants with
``battery``) a ``vessim.SimpleBattery`` and a ``vessim.GridConnection`` under the ``DefaultDispatchPolicy``: surplus
generation charges the battery, a deficit discharges it, the grid takes the rest (import or export). Variants:

* ``battery-recorder``: with batteries and a ``vessim.Recorder`` keeping metrics and every step's state in memory
  (what a study records; wattbit's engine also records every step);
* ``battery``: with batteries, no controller (the power flow alone);
* ``nobattery-metrics``: no batteries, a ``Recorder`` with metrics only: grid import and export must equal wattbit's
  grid import and spilled generation for the same inputs (a check that both saw the same year).

Prints one JSON line: setup and run times per repeat [s], steps, and the recorder's energy metrics [Wh] per site.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
from typing import Any

import numpy as np
import pandas as pd
import vessim as vs

VARIANTS = ("battery-recorder", "battery", "nobattery-metrics")


def traces(data: Any) -> tuple[vs.Trace, vs.Trace]:
    """Facility load and on-site generation as offset-indexed traces, one column per site."""
    names = [str(n) for n in data["names"]]
    offsets = pd.to_timedelta(np.arange(data["load_w"].shape[0]) * float(data["step_s"]), unit="s")
    load = pd.DataFrame(data["load_w"], index=offsets, columns=names)
    gen = pd.DataFrame(data["gen_w"], index=offsets, columns=names)
    return vs.Trace(load, repr_="wattbit facility_w"), vs.Trace(gen, repr_="wattbit pv_w + wind_w")


def environment(data: Any, load: vs.Trace, gen: vs.Trace, variant: str) -> tuple[vs.Environment, Any]:
    """A fresh environment with one microgrid per site (and its recorder, if the variant has one)."""
    env = vs.Environment(sim_start=str(data["start"]), step_size=int(data["step_s"]))
    for i, name in enumerate(str(n) for n in data["names"]):
        dispatchables: list[Any] = []
        if variant.startswith("battery"):
            dispatchables.append(
                vs.SimpleBattery(
                    f"battery-{name}",
                    capacity=float(data["battery_wh"][i]),
                    initial_soc=0.5,
                    c_rate=float(data["battery_c_rate"][i]),
                )
            )
        dispatchables.append(vs.GridConnection(f"grid-{name}"))
        env.add_microgrid(
            name=name,
            actors=[
                vs.Consumer(f"load-{name}", signal=load.select(name)),
                vs.Producer(f"gen-{name}", signal=gen.select(name)),
            ],
            dispatchables=dispatchables,
        )
    recorder = None
    if variant == "battery-recorder":
        recorder = env.add_controller(vs.Recorder(metrics=True, timeseries=True))
    elif variant == "nobattery-metrics":
        recorder = env.add_controller(vs.Recorder(metrics=True, timeseries=False))
    return env, recorder


def main() -> None:
    """Time ``--repeat`` runs of one variant over the whole input period."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("--variant", choices=VARIANTS, default=VARIANTS[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    data = np.load(args.input)
    steps = int(data["load_w"].shape[0])
    until = steps * int(data["step_s"])
    setup, run, metrics = [], [], {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        load, gen = traces(data)
        env, recorder = environment(data, load, gen, args.variant)
        t1 = time.perf_counter()
        result = env.run(until=until)
        run.append(time.perf_counter() - t1)
        setup.append(t1 - t0)
        if result.steps != steps:
            raise RuntimeError(f"Vessim ran {result.steps} steps, expected {steps}")
        if recorder is not None:
            metrics = {
                name: {k: float(v) for k, v in values.items()}
                for name, values in recorder.metrics["microgrids"].items()
            }
        del env, recorder
    print(
        json.dumps(
            {
                "vessim": importlib.metadata.version("vessim"),
                "variant": args.variant,
                "steps": steps,
                "sites": len(data["names"]),
                "setup_s": setup,
                "run_s": run,
                "metrics_wh": metrics,
            }
        )
    )


if __name__ == "__main__":
    main()
