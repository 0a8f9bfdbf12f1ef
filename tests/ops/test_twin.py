"""The live twin without a server: stepping, per-site metrics, fault injection into telemetry and engine."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ops.conftest import short_scenario
from wattbit.errors import WattbitInputError
from wattbit.ops.adapters.twin import LiveTwin
from wattbit.ops.serve import parse_listen


def test_step_inject_and_metrics() -> None:
    twin = LiveTwin(short_scenario(days=2, fault_rate_scale=1.0), seed=3, nodes_per_site=4)
    assert twin.step() and twin.step()
    body = b"".join(twin.metrics()).decode()
    assert 'wattbit_site_pue{site="inzai",area="tokyo"}' in body
    assert 'wattbit_site_gpus{site="fukushima",area="tohoku",state="training"}' in body
    assert "wattbit_twin_steps_total 2" in body and body.count("DCGM_FI_DEV_GPU_TEMP{") == 96
    out_before = twin.engine.gpus_out.copy()
    row = twin.inject("ishikari-n0002", "gpu_hbm3_memory", lead_h=1.0, gpu=1, repair_h=2.0)
    assert row["node"] == "ishikari-n0002" and row["gpu"] == 1 and row["signature"] == "hbm_ecc"
    k_fail = 2 + 4  # one hour after the current step, at 15-minute steps
    site = 1
    assert twin.engine.gpus_out[k_fail, site] == out_before[k_fail, site] + 1  # the engine takes the GPU out
    assert twin.engine.gpus_out[k_fail + 8, site] == out_before[k_fail + 8, site]  # and back after the repair
    for _ in range(6):
        twin.step()
    frame = twin.frame
    assert frame is not None
    g = int(twin.setup.inventory.site_offsets[site]) + 8 + 1
    assert frame.counters["ecc_dbe"][0, g] >= 1 and frame.xid_last[0, g] in (48, 63, 94)
    assert np.isclose(twin.sites.pue, twin.sites.facility_w / twin.sites.it_w).all()  # type: ignore[union-attr]
    with pytest.raises(WattbitInputError, match="unknown node"):
        twin.inject("nowhere-n0001", "gpu_hbm3_memory")
    with pytest.raises(WattbitInputError, match="unknown cause"):
        twin.inject("ishikari-n0002", "gremlins")


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    for bad in ("9400", "host:", "host:99999", ":80"):
        with pytest.raises(WattbitInputError):
            parse_listen(bad)
