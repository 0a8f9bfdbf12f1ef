"""The detectors: they predict faults from telemetry alone, and bad input never stops them."""

from __future__ import annotations

import numpy as np
import pytest

from wattbit.control import make_policy
from wattbit.ops.detect.alerts import AlertManager
from wattbit.ops.detect.baseline import RobustEwma, alpha_of
from wattbit.ops.detect.detectors import DetectorParams, Detectors, Sample, Topology
from wattbit.ops.detect.evaluate import ThresholdDetector, replay, score, topology_of
from wattbit.ops.telemetry.build import TelemetrySetup
from wattbit.sim.run import make_engine


@pytest.fixture(scope="module")
def week_replay(week_setup: TelemetrySetup):
    engine = make_engine(week_setup.inputs, make_policy("baseline"))
    engine.run()
    topo = topology_of(week_setup.inventory)
    return replay(week_setup, engine.rec, {"wattbit": Detectors(topo), "threshold": ThresholdDetector(topo)})


def test_detectors_predict_what_the_floor_only_sees_fail(week_setup: TelemetrySetup, week_replay) -> None:
    ours = score([(week_setup, week_replay.alerts["wattbit"], week_replay.gpu_days)]).overall
    floor = score([(week_setup, week_replay.alerts["threshold"], week_replay.gpu_days)]).overall
    assert ours["precision"] > 0.8
    assert ours["recall_predicted_with_precursor"] > 0.6 and ours["lead_time_median_min"] > 30
    assert floor["recall_predicted_with_precursor"] == 0.0  # fixed thresholds see failures, not precursors
    assert ours["recall"] >= floor["recall"]
    assert ours["false_alarms_per_1000_gpu_days"] < 5


def test_alerts_carry_target_and_evidence(week_replay) -> None:
    a = next(a for a in week_replay.alerts["wattbit"] if a.kind == "ecc_sbe_rate")
    assert a.severity == "warning" and a.node.count("-n") == 1 and 0 <= a.gpu < 8
    assert "ecc_sbe_window" in a.evidence and "threshold" in a.evidence
    assert len(a.alert_id) == 16 and '"kind": "ecc_sbe_rate"' in a.to_json()


def _topo(nodes: int = 2) -> Topology:
    g = nodes * 8
    return Topology.build(("s",), np.array([f"s-n{i + 1:04d}" for i in range(nodes)]), np.arange(g) // 8,
                          np.arange(g) % 8, np.zeros(nodes, dtype=np.int64))  # fmt: skip


def _sample(t: float, g: int = 16, **over: object) -> Sample:
    base = dict(
        time_s=t, present=np.ones(g, bool), power_w=np.full(g, 690.0), gpu_temp_c=np.full(g, 70.0),
        util_pct=np.full(g, 99.0), clock_events=np.zeros(g), row_remap_failure=np.zeros(g),
        counters={k: np.zeros(g) for k in ("ecc_sbe", "ecc_dbe", "rows_correctable", "rows_uncorrectable",
                                           "pcie_replay", "nvlink_crc")},
    )  # fmt: skip
    base.update(over)
    return Sample(**base)  # type: ignore[arg-type]


def test_bad_input_gives_data_events_not_crashes() -> None:
    det = Detectors(_topo(), DetectorParams(warmup_s=0))
    det.step(_sample(900.0))
    bad = _sample(1800.0, power_w=np.r_[np.nan, -5.0, 1e9, np.full(13, 690.0)])
    det.step(bad)
    assert any("power_w" in e and "outside" in e for e in det.data_events)
    # a counter that goes down restarted (a reset), it is not a negative increment
    det.step(_sample(2700.0, counters={"ecc_sbe": np.full(16, 50.0)}))
    det.step(_sample(3600.0, counters={"ecc_sbe": np.full(16, 2.0)}))
    assert any("reset" in e for e in det.data_events)
    # duplicated and out-of-order samples are skipped
    assert det.step(_sample(3600.0)) == [] and det.step(_sample(100.0)) == []
    assert sum("not after" in e for e in det.data_events) == 2
    # a GPU, then a whole node, vanish
    gone = np.ones(16, bool)
    gone[3] = False
    kinds = [a.kind for a in det.step(_sample(4500.0, present=gone)) if a.kind.endswith("vanished")]
    assert kinds == ["gpu_vanished"]
    node_gone = np.ones(16, bool)
    node_gone[8:] = False
    kinds = [a.kind for a in det.step(_sample(5400.0, present=node_gone)) if a.kind.endswith("vanished")]
    assert kinds == ["node_vanished"]


def test_state_survives_a_restart() -> None:
    det = Detectors(_topo(), DetectorParams(warmup_s=0))
    for k in range(1, 20):
        det.step(_sample(900.0 * k, counters={"ecc_sbe": np.full(16, float(k))}))
    again = Detectors(_topo(), DetectorParams(warmup_s=0))
    again.restore(det.state())
    assert again.samples == det.samples and again.t_last == det.t_last
    np.testing.assert_allclose(again.gpu_base.mean, det.gpu_base.mean)
    np.testing.assert_allclose(again.windows["ecc_sbe_rate"], det.windows["ecc_sbe_rate"])


def test_robust_baseline() -> None:
    assert alpha_of(1.0) == pytest.approx(0.5)
    b = RobustEwma(2, half_life=10, scale_half_life=10, warmup=3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        b.update(rng.normal([0.0, 10.0], 1.0))
    z = b.update(np.array([8.0, np.nan]))
    assert z[0] > 5 and np.isnan(z[1])
    mean_before = b.mean[0]
    b.update(np.array([1e6, 10.0]))  # an outlier moves the baseline only as far as the clip allows
    assert b.mean[0] - mean_before < 1.0
    b.resize(4)
    assert b.n == 4 and np.isnan(b.mean[3])


def test_episodes_and_calibration() -> None:
    mgr = AlertManager(cooldown_s=3600, calibration={"thermal": (0.9, 12.0)})
    det = Detectors(_topo())
    first = det._alert(0.0, 3, "thermal", {})
    assert mgr.offer(first) is first and first.probability == 0.9 and first.horizon_h == 12.0
    assert mgr.offer(det._alert(600.0, 3, "thermal", {})) is None and first.count == 2
    assert mgr.offer(det._alert(600.0 + 3601, 3, "thermal", {})) is not None


def test_low_probability_predictions_are_reported_as_anomalies_not_failures() -> None:
    mgr = AlertManager(calibration={"thermal": (0.05, 36.0), "row_remap": (0.77, 9.0)}, min_probability=0.2)
    det = Detectors(_topo())
    weak, strong = det._alert(0.0, 3, "thermal", {"z": 4.0}), det._alert(0.0, 5, "row_remap", {"rate": 2.0})
    assert mgr.offer(weak) is weak and mgr.offer(strong) is strong
    assert (
        weak.severity == "info" and weak.probability == 0.05 and weak.evidence["below_min_failure_probability"] == 0.2
    )
    assert (
        strong.severity == "warning"
        and strong.probability == 0.77
        and "below_min_failure_probability" not in strong.evidence
    )
