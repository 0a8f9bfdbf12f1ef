"""The single-site co-sizing problem of ``bench_pypsa.py`` in PyPSA; runs in the peer's own virtualenv.

Usage (called by ``bench_pypsa.py``)::

    PEER/bin/python benchmarks/peer_pypsa.py PROBLEM.npz OUT.json

``PROBLEM.npz`` holds the hourly facility load [MW], PV and wind output per MW installed, the import price
[currency/MWh], the equivalent annual costs per unit and the limits; this script never imports wattbit. The network:
one AC bus with the load; PV, wind and the grid as extendable generators (the grid's marginal cost is the hourly
price, its capital cost the connection's); the battery as an extendable store on its own bus with a charging and a
discharging link whose ratings are tied so that both equal one power rating measured on the AC side, as in wattbit's
model (charge <= P, discharge <= P, state of charge within [soc_min E, E], cyclic). Surplus generation is curtailed
(PyPSA's generators dispatch below ``p_max_pu``), which is wattbit's spill.
"""

from __future__ import annotations

import json
import logging
import sys
import time

import numpy as np
import pandas as pd
import pypsa


def build(data: dict[str, np.ndarray]) -> tuple[pypsa.Network, float]:
    """The network and the battery's discharge efficiency (for the tie between the two link ratings)."""
    hours = int(data["load_mw"].size)
    net = pypsa.Network()
    net.set_snapshots(pd.RangeIndex(hours, name="snapshot"))
    net.add("Bus", "site")
    net.add("Load", "facility", bus="site", p_set=pd.Series(data["load_mw"], index=net.snapshots))
    for name, cf, cost, limit in (
        ("pv", data["pv_cf"], data["pv_cost"], data["pv_max"]),
        ("wind", data["wind_cf"], data["wind_cost"], data["wind_max"]),
    ):
        net.add(
            "Generator",
            name,
            bus="site",
            p_nom_extendable=True,
            p_nom_max=float(limit),
            capital_cost=float(cost),
            p_max_pu=pd.Series(cf, index=net.snapshots),
            marginal_cost=0.0,
        )
    net.add(
        "Generator",
        "grid",
        bus="site",
        p_nom_extendable=True,
        p_nom_max=float(data["connection_max"]),
        capital_cost=float(data["connection_cost"]),
        marginal_cost=pd.Series(data["price"], index=net.snapshots),
    )
    eta_c, eta_d = float(data["eta_charge"]), float(data["eta_discharge"])
    net.add("Bus", "battery")
    net.add(
        "Store",
        "battery",
        bus="battery",
        e_nom_extendable=True,
        e_nom_max=float(data["battery_max_mwh"]),
        e_min_pu=float(data["soc_min"]),
        e_cyclic=True,
        capital_cost=float(data["battery_cost_mwh"]),
    )
    net.add(
        "Link",
        "charge",
        bus0="site",
        bus1="battery",
        efficiency=eta_c,
        p_nom_extendable=True,
        capital_cost=float(data["battery_cost_mw"]),
    )
    # the discharging link draws p0 from the store and delivers eta_d * p0: its rating is P / eta_d
    net.add("Link", "discharge", bus0="battery", bus1="site", efficiency=eta_d, p_nom_extendable=True)
    return net, eta_d


def main() -> None:
    """Solve the problem in ``sys.argv[1]`` and write the optimum to ``sys.argv[2]``."""
    logging.disable(logging.INFO)  # PyPSA and linopy log every step at INFO
    data = dict(np.load(sys.argv[1]))
    t0 = time.perf_counter()
    net, eta_d = build(data)

    def tie_battery_ratings(n: pypsa.Network, snapshots: object) -> None:
        p_nom = n.model["Link-p_nom"]
        dim = next(d for d in p_nom.dims if d != "_term")
        n.model.add_constraints(
            eta_d * p_nom.sel({dim: "discharge"}, drop=True) - p_nom.sel({dim: "charge"}, drop=True) == 0,
            name="battery-power-tie",
        )

    status, condition = net.optimize(
        solver_name="highs", extra_functionality=tie_battery_ratings, solver_options={"output_flag": False}
    )
    wall = time.perf_counter() - t0
    gens = net.generators.p_nom_opt
    out = {
        "status": f"{status}: {condition}",
        "objective": float(net.objective + getattr(net, "objective_constant", 0.0)),
        "pv_mw": float(gens["pv"]),
        "wind_mw": float(gens["wind"]),
        "connection_mw": float(gens["grid"]),
        "battery_mwh": float(net.stores.e_nom_opt["battery"]),
        "battery_mw": float(net.links.p_nom_opt["charge"]),
        "grid_mwh": float(net.generators_t.p["grid"].sum()),
        "wall_s": wall,
        "pypsa": pypsa.__version__,
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
