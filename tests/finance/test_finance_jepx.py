"""Energy cost and LCOE on real JEPX day-ahead prices (Tohoku area, FY2021, 30-minute slots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wattbit.data.jepx import read_jepx_spot
from wattbit.finance.components import Component, Operations
from wattbit.finance.financing import Financing
from wattbit.finance.project import Project, evaluate


@pytest.mark.shared_data
def test_grid_supplied_datacenter_on_jepx_tohoku_fy2021(shared_data: Path) -> None:
    frame, _ = read_jepx_spot(shared_data / "japan" / "jepx-spot" / "spot_summary_2021.csv", area="tohoku")
    price = frame["price_jpy_per_mwh"].to_numpy()
    assert price.size == 17520  # FY2021: 365 days x 48 slots
    load_mw = 50.0
    flat = np.full(price.size, load_mw * 0.5)  # MWh per 30-minute slot
    energy_mwh = float(flat.sum())  # 219,000 MWh a year
    grid = Component("grid", "grid_connection", capex=2e9, life_years=10)
    ops = Operations(
        gpu_hours_per_year=4e7,
        facility_energy_mwh_per_year=energy_mwh,
        grid_import_mwh=flat,
        price_per_mwh=price,
        step_h=0.5,
    )
    r = evaluate(Project((grid,), ops, 10, financing=Financing(discount_rate=0.05)))
    af = sum(1.05**-t for t in range(1, 11))
    # a flat load pays the time-average price; the connection adds its capex levelised over the energy
    assert r.table["energy_cost_jpy"][1] == pytest.approx(float(price.mean()) * energy_mwh, rel=1e-12)
    assert r.lcoe_per_mwh == pytest.approx(float(price.mean()) + 2e9 / (energy_mwh * af), rel=1e-12)
    assert price.mean() == pytest.approx(13_853.49, abs=0.01)  # JPY/MWh, the FY2021 Tohoku time average of the file
    # the same energy bought in the cheapest half of the slots costs less
    cheap = np.where(price <= np.median(price), 2 * load_mw * 0.5, 0.0)
    cheap *= energy_mwh / cheap.sum()
    shifted = evaluate(
        Project(
            (grid,),
            Operations(
                gpu_hours_per_year=4e7,
                facility_energy_mwh_per_year=energy_mwh,
                grid_import_mwh=cheap,
                price_per_mwh=price,
                step_h=0.5,
            ),
            10,
            financing=Financing(discount_rate=0.05),
        )
    )
    assert shifted.lcoe_per_mwh < r.lcoe_per_mwh
    assert shifted.npv > r.npv
