"""The twin's telemetry: dcgm-exporter's exact text format, the thermal model, signatures and ground truth."""

from __future__ import annotations

import re

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from wattbit.control import make_policy
from wattbit.errors import WattbitInputError
from wattbit.ops.telemetry.build import TelemetrySetup, scale_scenario, site_inputs
from wattbit.ops.telemetry.exposition import DcgmRenderer, format_double
from wattbit.ops.telemetry.names import DCGM_FIELDS, XID_COUNT
from wattbit.ops.telemetry.signatures import SIGNATURES, SignatureSettings
from wattbit.ops.telemetry.thermal import ThermalParams, coolant_rise_k, lagged_temp_c, steady_temp_c
from wattbit.scenario import OpsSpec, load_scenario
from wattbit.sim.run import make_engine

# dcgm-exporter's template (internal/pkg/rendermetrics/render_metrics.go), as a regular expression of one line
LINE = re.compile(
    r'^(DCGM_[A-Z0-9_]+)\{gpu="(\d)",UUID="GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",'
    r'pci_bus_id="00000000:[0-9A-F]{2}:00\.0",device="nvidia\2",modelName="NVIDIA [^"]+",Hostname="[a-z]+-n\d{4}",'
    r'DCGM_FI_DRIVER_VERSION="550\.90\.07"(,err_code="\d+",err_msg="[^"]+"|,window_size_in_ms="900000"(,xid="\d+")?)?'
    r"\} (-?\d+|\d+\.\d{6})$"
)


@pytest.fixture(scope="module")
def frames(week_setup: TelemetrySetup):
    engine = make_engine(week_setup.inputs, make_policy("baseline"))
    engine.run()
    model = week_setup.model
    steps = week_setup.fleet.steps
    return engine, [
        model.block(k, site_inputs(engine.rec, week_setup.fleet, k, min(k + 96, steps))) for k in range(0, steps, 96)
    ]


def test_scrape_is_dcgm_exporter_text_format(week_setup: TelemetrySetup, frames) -> None:
    _, blocks = frames
    frame = next(f for f in blocks if len(f.xid_step))
    row = int(frame.xid_step[0])
    text = DcgmRenderer(week_setup.inventory).render(frame, row).decode()
    lines = text.splitlines()
    names = [s.name for s in (*DCGM_FIELDS, XID_COUNT)]
    headers = [ln for ln in lines if ln.startswith("#")]
    assert headers == [h for n in names for h in (f"# HELP {n} " + _help(n), f"# TYPE {n} " + _kind(n))]
    samples = [ln for ln in lines if not ln.startswith("#")]
    bad = [ln for ln in samples if not LINE.match(ln)]
    assert not bad, bad[:3]
    assert any('xid="' in ln for ln in samples)
    # doubles as Go's %f, ints as %d; a Prometheus parser reads it back (it adds _total to counters)
    power = [ln for ln in samples if ln.startswith("DCGM_FI_DEV_POWER_USAGE{")]
    assert all(re.search(r"\} \d+\.\d{6}$", ln) for ln in power)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "DCGM_FI_DEV_GPU_TEMP" in families and "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL" in families
    present = int(frame.present[row].sum())
    assert len(families["DCGM_FI_DEV_GPU_TEMP"].samples) == present
    assert text.endswith("\n") and "\n\n" not in text


def _help(name: str) -> str:
    return next(s.help for s in (*DCGM_FIELDS, XID_COUNT) if s.name == name)


def _kind(name: str) -> str:
    return next(s.kind for s in (*DCGM_FIELDS, XID_COUNT) if s.name == name)


def test_hostname_label_of_newer_releases(week_setup: TelemetrySetup, frames) -> None:
    _, blocks = frames
    text = DcgmRenderer(week_setup.inventory, hostname_label="hostname").render(blocks[0], 0).decode()
    assert ',hostname="fukushima-n0001"' in text and "Hostname=" not in text
    with pytest.raises(ValueError):
        DcgmRenderer(week_setup.inventory, hostname_label="host")
    assert format_double(float("nan")) == "NaN" and format_double(700.0) == "700.000000"


def test_physical_invariants(week_setup: TelemetrySetup, frames) -> None:
    engine, blocks = frames
    inv = week_setup.inventory
    for f in blocks:
        on = f.present & (f.state <= 1)
        # power within [0, limit x (1 + noise)], temperatures above the inlet, counters never fall unless reset
        assert np.all(f.power_w[f.present] >= 0)
        assert np.all(f.power_w[on] <= f.power_limit_w[on] * 1.1)
        assert np.all(f.gpu_temp_c[f.present] > 15) and np.all(f.gpu_temp_c[f.present] < 110)
        # the energy counter grows, or restarts from zero on a GPU back from repair (at most one step's energy)
        steady = f.present[1:] & f.present[:-1]
        e = f.counters["energy_mj"]
        grows = np.diff(e, axis=0) >= 0
        restarted = e[1:] <= 1000 * 900 * 800
        assert np.all((grows | restarted)[steady])
    # GPUs training in the telemetry match the engine's count per site (GPUs out aside)
    f = blocks[2]
    training = np.array([[np.sum((f.state[j] == 0) & (inv.site == s)) for s in range(3)] for j in range(f.steps)])
    assert np.all(training <= engine.rec.busy_gpus[192 : 192 + f.steps])
    assert np.all(training >= engine.rec.busy_gpus[192 : 192 + f.steps] - 16)


def test_thermal_model() -> None:
    p = ThermalParams()
    assert steady_temp_c(48.0, 700.0, p.r_th_liquid_k_per_w) == pytest.approx(72.5)
    assert lagged_temp_c(40.0, 70.0, 60.0, 60.0) == pytest.approx(70 - 30 * np.exp(-1))
    assert lagged_temp_c(40.0, 70.0, 900.0, 60.0) == pytest.approx(70.0, abs=1e-5)
    assert coolant_rise_k(4e5, 10.0, 4000.0) == pytest.approx(10.0)
    with pytest.raises(WattbitInputError):
        ThermalParams(tau_s=0)


def test_cooling_fault_heats_the_loop_it_hits(week_setup: TelemetrySetup, frames) -> None:
    _, blocks = frames
    plan = week_setup.plan
    sig = np.array(list(SIGNATURES))[plan.signature]
    cool = np.flatnonzero(sig == "cooling_loop")
    hbm = np.flatnonzero(sig == "hbm_ecc")
    late = hbm[(plan.precursor_start_s[hbm] > 86_400) & (plan.failure_s[hbm] < 6 * 86_400)]
    assert late.size, "a week at 30x the rates has HBM faults"
    i = int(late[0])
    g = int(plan.first_gpu[i])

    def at(key: str, t_s: float) -> float:
        b, j = divmod(int(t_s // 900), 96)
        return float(blocks[b].counters[key][j, g])

    fail, pre = plan.failure_s[i], plan.precursor_start_s[i]
    assert at("rows_uncorrectable", fail) >= 1 and at("ecc_dbe", fail) >= 1
    assert at("rows_uncorrectable", fail - 900) == 0
    assert at("ecc_sbe", fail - 900) + at("rows_correctable", fail - 900) > at("ecc_sbe", pre) + at(
        "rows_correctable", pre
    )
    if cool.size:  # the GPUs of the loop run hotter than the rest of the site just before the failure
        i = int(cool[0])
        k = int(plan.failure_s[i] // 900) - 1
        b, j = divmod(k, 96)
        block = np.arange(plan.first_gpu[i], plan.first_gpu[i] + plan.n_gpus[i])
        f = blocks[b]
        site = week_setup.inventory.site == plan.site[i]
        rest = site.copy()
        rest[block] = False
        hot = f.gpu_temp_c[j] - f.power_w[j] * 0.035
        assert np.median(hot[block]) > np.median(hot[rest])


def test_labels_frame_is_the_ground_truth(week_setup: TelemetrySetup) -> None:
    labels = week_setup.labels_frame()
    assert list(labels.columns[:6]) == ["fault_id", "site", "node", "gpu", "first_gpu", "n_gpus"]
    assert (labels["failure_utc"] >= labels["precursor_start_utc"]).all()
    assert set(labels["site"]) <= {"fukushima", "ishikari", "inzai"}
    assert labels["node"].str.match(r"^[a-z]+-n\d{4}$").all()


def test_signature_settings_from_the_scenario() -> None:
    spec = OpsSpec.model_validate(
        {"signatures": {"hbm_ecc": {"lead_h": [4, 8]}}, "cause_signatures": {"faulty_gpu": {"nvlink": 1.0}}}
    )
    s = SignatureSettings.from_spec(spec)
    assert s.signatures["hbm_ecc"].lead_h == (4, 8) and s.cause_mix["faulty_gpu"] == {"nvlink": 1.0}
    with pytest.raises(WattbitInputError, match="ops.signatures.nope"):
        SignatureSettings.from_spec(OpsSpec.model_validate({"signatures": {"nope": {}}}))
    with pytest.raises(WattbitInputError, match="sum to 1"):
        SignatureSettings.from_spec(OpsSpec.model_validate({"cause_signatures": {"cpu": {"node_down": 0.5}}}))


def test_scale_scenario_keeps_shares() -> None:
    sc = load_scenario("japan-2022")
    small = scale_scenario(sc, 4)
    for a, b in zip(sc.sites, small.sites, strict=True):
        f = b.it.gpu_count / a.it.gpu_count
        assert b.it.gpu_count == 32
        assert b.grid_connection_mw == pytest.approx(a.grid_connection_mw * f)
        assert b.battery_mwh == pytest.approx(a.battery_mwh * f)
    with pytest.raises(WattbitInputError):
        scale_scenario(sc, 0)
