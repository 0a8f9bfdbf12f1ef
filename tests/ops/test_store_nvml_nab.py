"""The SQLite store, the read-only NVML source, NAB's scoring and the watcher against a Prometheus that is down."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pytest

from wattbit.ops.adapters import nvml
from wattbit.ops.adapters.prometheus import PrometheusClient, PrometheusError, scrape_config
from wattbit.ops.detect.alerts import Alert
from wattbit.ops.detect.nab import NabFile, corpus_score, file_score, read_nab, windowed_gaussian
from wattbit.ops.store import AlertStore
from wattbit.ops.watch import Watcher, host_of, site_of


def test_store_is_wal_and_keeps_alerts_and_state(tmp_path: Path) -> None:
    path = tmp_path / "ops-alerts.sqlite"
    a = Alert(1.0e9, "inzai", "inzai-n0003", 2, "row_remap", "warning", {"rows": 3}, 0.9, 12.0, 1.0e9, 1)
    with AlertStore(path) as store:
        assert store.journal_mode == "wal"
        assert store.add_alerts([a]) == 1
        a.count, a.last_s = 5, 1.0e9 + 60
        store.add_alerts([a])  # the same alert updated, not duplicated
        store.save_state("watcher", {"keys": [["inzai-n0003", 2]], "t": float("nan")})
        store.log_event("Prometheus unreachable")
    with AlertStore(path) as again:  # a restart finds everything
        rows = again.alerts()
        assert len(rows) == 1 and rows[0]["count"] == 5 and rows[0]["evidence"] == {"rows": 3}
        assert rows[0]["probability"] == 0.9 and rows[0]["node"] == "inzai-n0003"
        assert again.load_state("watcher")["keys"] == [["inzai-n0003", 2]]
        assert again.events()[0][1] == "Prometheus unreachable"
        assert again.load_state("missing") is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_watcher_survives_a_prometheus_that_is_down(tmp_path: Path) -> None:
    client = PrometheusClient(f"http://127.0.0.1:{_closed_port()}", timeout_s=0.5)
    with pytest.raises(PrometheusError, match="127.0.0.1"):
        client.query("up")
    assert not client.ready()
    with AlertStore(tmp_path / "ops-w.sqlite") as store:
        w = Watcher(client, store)
        assert w.step() == [] and w.step() == []
        assert w.errors == 2 and w.down_since is not None
        events = [m for _, m in store.events()]
        assert len(events) == 1 and "unreachable" in events[0]  # one line per outage, not per poll


def test_labels_of_old_and_new_exporters() -> None:
    assert host_of({"Hostname": "a-n0001", "hostname": "b"}) == "a-n0001"
    assert host_of({"hostname": "gpu-node-7"}) == "gpu-node-7"
    assert host_of({"instance": "10.0.0.7:9400"}) == "10.0.0.7:9400"
    assert site_of({}, "fukushima-n0001") == "fukushima" and site_of({"site": "x"}, "h") == "x"
    assert site_of({}, "gpu07") == "default"
    assert "targets: ['127.0.0.1:9400']" in scrape_config(["127.0.0.1:9400"], 1.0)
    with pytest.raises(ValueError):
        scrape_config(["no-port"])


def test_nvml_source_only_queries() -> None:
    source = Path(nvml.__file__).read_text(encoding="utf-8")
    called = set(re.findall(r'"(nvml[A-Z][A-Za-z]+)"', source))  # every NVML call goes through _call("name", ...)
    assert called and all(name.startswith(nvml.ALLOWED) for name in called), sorted(called)
    assert not re.search(r"\.nvml[A-Z]\w*\(", source)  # and none around it
    assert not re.search(r"nvml\w*(Set|Reset|Clear)", source)
    with pytest.raises(PermissionError):
        nvml._call("nvmlDeviceSetPowerManagementLimit", None, 100)


def test_nvml_source_says_clearly_when_there_is_no_gpu() -> None:
    try:
        src = nvml.NvmlSource()
    except nvml.NvmlUnavailable as exc:
        assert "NVML" in str(exc)
    else:  # a machine with a GPU: read it
        frame = src.read()
        assert frame.power_w.shape[1] == len(src.handles)
        src.close()


def test_nab_scoring_bounds() -> None:
    cost = {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}
    n = 2000
    f = NabFile("synthetic", None, np.zeros(n), [(1000, 1099), (1500, 1599)])  # type: ignore[arg-type]
    perfect = np.zeros(n)
    perfect[[1000, 1500]] = 1.0
    assert corpus_score({"synthetic": perfect}, [f], cost)["score"] == pytest.approx(100.0)
    assert corpus_score({"synthetic": np.zeros(n)}, [f], cost)["score"] == pytest.approx(0.0)
    late = np.zeros(n)
    late[[1098, 1598]] = 1.0  # at the right edge of each window: hardly any credit
    assert file_score(late, f, 0.5, cost)["raw"] < 0.2
    noisy = perfect.copy()
    noisy[400] = 1.0  # a false positive far from any window costs fpWeight
    r = file_score(noisy, f, 0.5, cost)
    assert r["false_positives"] == 1 and r["raw"] == pytest.approx(2.0 - 0.11)


@pytest.mark.shared_data
def test_nab_files_and_the_windowed_gaussian(shared_data: Path) -> None:
    files, profiles = read_nab(shared_data / "anomaly" / "nab-realknowncause")
    assert len(files) == 7 and sum(len(f.windows) for f in files) == 19
    assert profiles["standard"]["fpWeight"] == 0.11
    small = min(files, key=lambda f: len(f.values))
    scores = windowed_gaussian(small.values)
    assert scores.shape == small.values.shape and 0 <= scores.min() and scores.max() <= 1
