"""Tests of the workload-trace readers: real files, small fixtures and every kind of bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.data.workload_traces import (
    DEFAULT_TRACE_START,
    READERS,
    SNIFFERS,
    read_alibaba_gpu_nodes,
    read_alibaba_gpu_pods,
    read_azure_llm_2023,
    read_servegen_client_rates,
    servegen_total_rate,
)
from wattbit.errors import DataFormatError, WattbitInputError

ANCHOR = pd.Timestamp(DEFAULT_TRACE_START).tz_convert("UTC")


@pytest.fixture(scope="module")
def wl(fixtures_dir: Path) -> Path:
    return fixtures_dir / "workloads"


def _variant(tmp_path: Path, src: Path, edit, name: str | None = None) -> Path:
    """Write ``edit(lines)`` of ``src`` to a file in tmp_path (same name unless given)."""
    lines = src.read_text().splitlines()
    out = tmp_path / (name or src.name)
    out.write_text("\n".join(edit(lines)) + "\n")
    return out


def _set(line: str, col: int, value: str) -> str:
    cells = line.split(",")
    cells[col] = value
    return ",".join(cells)


# --- real data ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data: Path) -> Path:
    return shared_data / "workloads"


@pytest.fixture(scope="module")
def pods(real: Path) -> tuple[pd.DataFrame, object]:
    return read_alibaba_gpu_pods(real / "alibaba-gpu-v2023-openb" / "openb_pod_list_default.csv")


@pytest.fixture(scope="module")
def m_large(real: Path) -> tuple[pd.DataFrame, object]:
    return read_servegen_client_rates(real / "alibaba-servegen-client-rates" / "language_m-large_client_rates.csv.gz")


@pytest.mark.shared_data
def test_real_pods_counts_and_invariants(pods) -> None:
    frame, meta = pods
    assert len(frame) == meta.rows == 8152
    assert frame["name"].is_unique
    assert frame["status"].value_counts().to_dict() == {
        "completed": 7221,
        "never_scheduled": 897,
        "running_at_trace_end": 34,
    }
    assert (frame["status"] == "never_scheduled").sum() == (frame["pod_phase"] == "Pending").sum()
    ran = frame["status"].isin(["completed", "running_at_trace_end"])
    assert (frame.loc[ran, "duration_s"] >= 0).all() and (frame.loc[ran, "wait_s"] >= 0).all()
    assert frame.loc[~ran, "duration_s"].isna().all()
    assert (frame.loc[~ran, "gpu_hours"] == 0).all()
    total = meta.attrs["total_gpu_hours"]
    assert total > 0
    assert total == pytest.approx(frame["gpu_hours"].sum())
    assert total == pytest.approx(51470.674, abs=0.01)
    manual = (frame["num_gpu"] * frame["gpu_milli"] / 1000 * frame["duration_s"] / 3600).sum()
    assert total == pytest.approx(float(manual))
    for col in ("creation_time_utc", "scheduled_time_utc", "deletion_time_utc"):
        assert str(frame[col].dt.tz) == "UTC"
    assert meta.start_utc == ANCHOR and meta.end_utc == ANCHOR + pd.Timedelta(seconds=12902960)
    assert meta.attrs["trace_end_s"] == 12902960
    assert frame["gpu_fraction"].between(0, 8).all()
    assert meta.missing_values["scheduled_time_s"] == 897 and meta.missing_values["gpu_spec"] == 0
    assert any("ASSUMPTION" in n for n in meta.notes)


@pytest.mark.shared_data
def test_real_pods_spot_values(pods) -> None:
    frame, _ = pods
    # raw line: openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061
    row = frame.iloc[1]
    assert row["name"] == "openb-pod-0001"
    assert (row["cpu_milli"], row["memory_mib"], row["num_gpu"], row["gpu_milli"]) == (6000, 12288, 1, 460)
    assert row["gpu_fraction"] == pytest.approx(0.46)
    assert row["status"] == "running_at_trace_end"
    assert row["creation_time_utc"] == ANCHOR + pd.Timedelta(seconds=427061)
    assert row["gpu_hours"] == pytest.approx(0.46 * (12902960 - 427061) / 3600)
    # raw line: openb-pod-8151,3152,5600,1,590,,BE,Failed,12901761,12901792,12901762
    last = frame.iloc[-1]
    assert (last["name"], last["pod_phase"], last["qos"], last["status"]) == (
        "openb-pod-8151",
        "Failed",
        "BE",
        "completed",
    )
    assert (last["wait_s"], last["duration_s"]) == (1.0, 30.0)
    multi = frame[frame["num_gpu"] == 8]
    assert len(multi) == 44 and (multi["gpu_fraction"] == 8).all()


@pytest.mark.shared_data
def test_real_pods_custom_anchor(real: Path) -> None:
    path = real / "alibaba-gpu-v2023-openb" / "openb_pod_list_default.csv"
    frame, meta = read_alibaba_gpu_pods(path, trace_start_utc="2020-06-01 00:00")
    assert frame["creation_time_utc"].iloc[0] == pd.Timestamp("2020-06-01", tz="UTC")
    assert meta.attrs["trace_start_utc"] == "2020-06-01T00:00:00+00:00"


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "nodes", "gpus"), [("all_node", 1523, 6212), ("gpu_node", 1213, 6212)])
def test_real_nodes(real: Path, name: str, nodes: int, gpus: int) -> None:
    frame, meta = read_alibaba_gpu_nodes(real / "alibaba-gpu-v2023-openb" / f"openb_node_list_{name}.csv")
    assert len(frame) == nodes and meta.attrs["total_gpus"] == gpus == frame["num_gpu"].sum()
    assert meta.attrs["gpus_by_model"]["G2"] == 4392
    assert meta.missing_values["gpu_model"] == 0


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("code", "service", "rows", "rate", "first"),
    [
        ("code", "code", 8819, 2.5667, ("2023-11-16 18:17:03.97996", 4808, 10)),
        ("conv", "conversation", 19366, 5.5304, ("2023-11-16 18:15:46.68059", 374, 44)),
    ],
)
def test_real_azure(real: Path, code: str, service: str, rows: int, rate: float, first: tuple) -> None:
    # SOURCE.txt says 8,818 and 19,365: the files end without a newline, so `wc -l` counts one line short.
    frame, meta = read_azure_llm_2023(real / "azure-llm-inference-2023" / f"AzureLLMInferenceTrace_{code}.csv")
    assert len(frame) == meta.rows == meta.attrs["requests"] == rows
    assert meta.attrs["service"] == service
    assert meta.attrs["mean_rate_rps"] == pytest.approx(rate, abs=1e-3)
    assert str(frame["arrival_time_utc"].dt.tz) == "UTC"
    assert frame["arrival_time_utc"].is_monotonic_increasing
    t0 = frame.iloc[0]
    assert t0["arrival_time_utc"] == pd.Timestamp(first[0], tz="UTC")
    assert (t0["context_tokens"], t0["generated_tokens"]) == first[1:]
    assert (frame["context_tokens"] > 0).all() and (frame["generated_tokens"] > 0).all()
    assert meta.start_utc == frame["arrival_time_utc"].iloc[0] and meta.end_utc == frame["arrival_time_utc"].iloc[-1]
    assert sum(meta.missing_values.values()) == 0
    assert any("UTC" in n for n in meta.notes)


@pytest.mark.shared_data
def test_real_servegen_large(m_large) -> None:
    frame, meta = m_large
    assert len(frame) == 326592 and frame["client"].nunique() == meta.attrs["clients"] == 162
    assert meta.attrs["model"] == "m-large" and meta.attrs["windows"] == 2016 and meta.gaps == []
    assert meta.resolution == pd.Timedelta(minutes=10)
    assert frame["time_s"].max() == 1209000
    assert str(frame["time_utc"].dt.tz) == "UTC"
    # raw line 2: 0,0,1.3316666666666668,8.598383725990791,Weibull,0.3753486140101707,0.3967677807107179
    row = frame.iloc[0]
    assert (row["client"], row["time_s"], row["iat_dist"]) == (0, 0, "Weibull")
    assert row["rate_rps"] == pytest.approx(1.3316666666666668) and row["param2"] == pytest.approx(0.3967677807)
    total = servegen_total_rate(frame)
    assert len(total) == 2016 and total.index.name == "time_utc" and total.name == "rate_rps"
    assert total.index[0] == ANCHOR and total.index.is_monotonic_increasing
    assert total.iloc[5] == pytest.approx(frame.loc[frame["time_s"] == 3000, "rate_rps"].sum())
    assert meta.attrs["mean_total_rate_rps"] == pytest.approx(total.mean()) == pytest.approx(195.844, abs=1e-3)
    idle = frame["iat_dist"].isna()
    assert (frame.loc[idle, "rate_rps"] == 0).all()


@pytest.mark.shared_data
def test_real_servegen_small(real: Path) -> None:
    frame, meta = read_servegen_client_rates(
        real / "alibaba-servegen-client-rates" / "language_m-small_client_rates.csv.gz",
        trace_start_utc=pd.Timestamp("2022-03-01", tz="Asia/Tokyo"),
    )
    assert len(frame) == 86688 and meta.attrs["clients"] == 43
    assert meta.attrs["mean_total_rate_rps"] == pytest.approx(1174.404, abs=1e-3)
    assert frame["time_utc"].iloc[0] == pd.Timestamp("2022-02-28 15:00", tz="UTC")


@pytest.mark.shared_data
def test_sniffers_recognise_real_files(real: Path) -> None:
    files = {
        "alibaba_gpu_pods": real / "alibaba-gpu-v2023-openb" / "openb_pod_list_default.csv",
        "alibaba_gpu_nodes": real / "alibaba-gpu-v2023-openb" / "openb_node_list_gpu_node.csv",
        "azure_llm_2023": real / "azure-llm-inference-2023" / "AzureLLMInferenceTrace_conv.csv",
        "servegen_client_rates": real / "alibaba-servegen-client-rates" / "language_m-small_client_rates.csv.gz",
        None: real / "alibaba-gpu-v2025-dlrm" / "disaggregated_DLRM_trace.csv",
    }
    for expected, path in files.items():
        raw = path.read_bytes()
        head = (gzip.decompress(raw) if path.suffix == ".gz" else raw)[:4000].decode("utf-8")
        matches = [name for name, sniff in SNIFFERS.items() if sniff(head)]
        assert matches == ([expected] if expected else []), path


# --- fixtures ----------------------------------------------------------------------------------------------------


def test_readers_registry(wl: Path) -> None:
    assert set(READERS) == set(SNIFFERS)
    for name, path in [
        ("alibaba_gpu_pods", "openb_pod_list_sample.csv"),
        ("alibaba_gpu_nodes", "openb_node_list_sample.csv"),
        ("azure_llm_2023", "AzureLLMInferenceTrace_code_sample.csv"),
        ("servegen_client_rates", "language_m-large_client_rates_sample.csv"),
    ]:
        assert SNIFFERS[name]((wl / path).read_text()[:4000])
        frame, meta = READERS[name](wl / path)
        assert meta.reader == name and len(frame) == meta.rows > 0


def test_fixture_pods(wl: Path) -> None:
    frame, meta = read_alibaba_gpu_pods(wl / "openb_pod_list_sample.csv")
    assert len(frame) == 31
    status = frame.set_index("name")["status"]
    assert status["openb-pod-0001"] == "running_at_trace_end"
    assert status["openb-pod-0000"] == "completed"  # Running, but deleted before the trace end
    assert (status[frame.set_index("name")["pod_phase"] == "Pending"] == "never_scheduled").all()
    cpu_only = frame[frame["num_gpu"] == 0]
    assert len(cpu_only) == 3 and (cpu_only["gpu_hours"] == 0).all()
    assert frame.loc[frame["name"] == "openb-pod-2443", "wait_s"].item() == 10904918 - 10903509
    assert meta.attrs["total_gpu_hours"] == pytest.approx(frame["gpu_hours"].sum())
    assert (frame["gpu_spec"] == "").all() and meta.missing_values["gpu_spec"] == 0


def test_fixture_nodes(wl: Path) -> None:
    frame, meta = read_alibaba_gpu_nodes(wl / "openb_node_list_sample.csv")
    assert len(frame) == 17
    assert (frame.loc[frame["num_gpu"] == 0, "gpu_model"] == "").all()
    assert set(meta.attrs["gpus_by_model"]) == {"A10", "G2", "G3", "P100", "T4", "V100M16", "V100M32"}


def test_fixture_azure(wl: Path) -> None:
    frame, meta = read_azure_llm_2023(wl / "AzureLLMInferenceTrace_conv_sample.csv")
    assert len(frame) == 25 and meta.attrs["service"] == "conversation"
    assert list(frame.columns) == ["arrival_time_utc", "context_tokens", "generated_tokens"]
    assert frame["arrival_time_utc"].iloc[1] == pd.Timestamp("2023-11-16 18:15:50.995169", tz="UTC")
    span = (frame["arrival_time_utc"].iloc[-1] - frame["arrival_time_utc"].iloc[0]).total_seconds()
    assert meta.attrs["mean_rate_rps"] == pytest.approx(25 / span)


def test_fixture_servegen_and_gzip(wl: Path, tmp_path: Path) -> None:
    src = wl / "language_m-large_client_rates_sample.csv"
    frame, meta = read_servegen_client_rates(src)
    gz = tmp_path / "language_m-large_client_rates.csv.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    frame_gz, _ = read_servegen_client_rates(gz)
    pd.testing.assert_frame_equal(frame, frame_gz)
    assert len(frame) == 36 and meta.attrs["clients"] == 3 and meta.attrs["windows"] == 12
    assert list(frame.columns) == ["client", "time_s", "time_utc", "rate_rps", "cv", "iat_dist", "param1", "param2"]
    total = servegen_total_rate(frame)
    assert total.iloc[0] == pytest.approx(frame.loc[frame["time_s"] == 0, "rate_rps"].sum())


def test_servegen_clients_interleaved_and_missing_rate(wl: Path, tmp_path: Path) -> None:
    # Clients may come in any order; only each client's own windows must increase.
    src = wl / "language_m-large_client_rates_sample.csv"
    path = _variant(tmp_path, src, lambda ls: [ls[0], *ls[25:], *ls[1:25]])
    frame, _ = read_servegen_client_rates(path)
    assert frame["client"].iloc[0] == 2
    path = _variant(tmp_path, src, lambda ls: [*ls[:2], _set(ls[2], 2, ""), *ls[3:]])
    frame, meta = read_servegen_client_rates(path)
    assert meta.missing_values["rate_rps"] == 1
    assert np.isnan(servegen_total_rate(frame).iloc[1])  # not a partial sum


def test_pods_with_deletion_before_creation_are_kept_and_flagged(wl: Path, tmp_path: Path) -> None:
    src = wl / "openb_pod_list_sample.csv"
    # line 12 is openb-pod-0017 (created 9437497): delete it before it was created
    path = _variant(tmp_path, src, lambda ls: [*ls[:11], _set(ls[11], 9, "9437000"), *ls[12:]])
    frame, meta = read_alibaba_gpu_pods(path)
    row = frame.iloc[10]
    assert row["name"] == "openb-pod-0017" and row["status"] == "bad_times"
    assert np.isnan(row["duration_s"]) and np.isnan(row["gpu_hours"]) and row["deletion_time_s"] == 9437000
    assert any("1 pods with impossible times" in n for n in meta.notes)
    assert len(frame) == 31


# --- bad input ---------------------------------------------------------------------------------------------------


FIXTURE_OF = {
    read_alibaba_gpu_pods: "openb_pod_list_sample.csv",
    read_alibaba_gpu_nodes: "openb_node_list_sample.csv",
    read_azure_llm_2023: "AzureLLMInferenceTrace_code_sample.csv",
    read_servegen_client_rates: "language_m-large_client_rates_sample.csv",
}


@pytest.mark.parametrize("reader", list(FIXTURE_OF))
def test_missing_column(reader, wl: Path, tmp_path: Path) -> None:
    src = wl / FIXTURE_OF[reader]
    path = _variant(tmp_path, src, lambda ls: [",".join(c.split(",")[:2] + c.split(",")[3:]) for c in ls])
    missing = src.read_text().splitlines()[0].split(",")[2]
    with pytest.raises(DataFormatError, match=rf"missing column.*{missing}") as err:
        reader(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("reader", list(FIXTURE_OF))
def test_empty_and_header_only(reader, wl: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n")
    with pytest.raises(DataFormatError, match="empty"):
        reader(empty)
    header = _variant(tmp_path, wl / FIXTURE_OF[reader], lambda ls: ls[:1])
    with pytest.raises(DataFormatError, match="no data rows"):
        reader(header)


@pytest.mark.parametrize("reader", list(FIXTURE_OF))
def test_binary_garbage(reader, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataFormatError, match="cannot decode|NUL bytes"):
        reader(garbage)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"a,b\x00,c\n1,2,3\n")
    with pytest.raises(DataFormatError, match="binary"):
        reader(nul)
    fake_gz = tmp_path / "rates.csv.gz"
    fake_gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataFormatError, match="gzip"):
        reader(fake_gz)


def test_azure_unsorted(wl: Path, tmp_path: Path) -> None:
    path = _variant(
        tmp_path, wl / "AzureLLMInferenceTrace_code_sample.csv", lambda ls: [*ls[:5], ls[6], ls[5], *ls[7:]]
    )
    with pytest.raises(DataFormatError, match="backwards") as err:
        read_azure_llm_2023(path)
    assert err.value.row == 7 and "line 7" in str(err.value)


def test_servegen_unsorted_and_duplicate_within_client(wl: Path, tmp_path: Path) -> None:
    src = wl / "language_m-large_client_rates_sample.csv"
    path = _variant(tmp_path, src, lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]])
    with pytest.raises(DataFormatError, match="strictly increasing") as err:
        read_servegen_client_rates(path)
    assert (err.value.row, err.value.field) == (5, "time_s") and "client 0" in str(err.value)
    path = _variant(tmp_path, src, lambda ls: [*ls[:16], ls[15], *ls[16:]])
    with pytest.raises(DataFormatError, match="strictly increasing") as err:
        read_servegen_client_rates(path)
    assert err.value.row == 17


@pytest.mark.parametrize(
    ("reader", "line", "col", "value", "field", "expected"),
    [
        (read_azure_llm_2023, 4, 1, "-5", "ContextTokens", ">= 0"),
        (read_azure_llm_2023, 9, 2, "-1", "GeneratedTokens", ">= 0"),
        (read_azure_llm_2023, 3, 1, "abc", "ContextTokens", "not a number"),
        (read_azure_llm_2023, 3, 2, "12.5", "GeneratedTokens", "whole number"),
        (read_azure_llm_2023, 6, 0, "yesterday", "TIMESTAMP", "date and time"),
        (read_alibaba_gpu_pods, 5, 3, "two", "num_gpu", "not a number"),
        (read_alibaba_gpu_pods, 5, 4, "1500", "gpu_milli", "0..1000"),
        (read_alibaba_gpu_pods, 7, 1, "-100", "cpu_milli", ">= 0"),
        (read_alibaba_gpu_pods, 8, 8, "soon", "creation_time", "not a number"),
        (read_alibaba_gpu_nodes, 3, 3, "x", "gpu", "not a number"),
        (read_servegen_client_rates, 10, 2, "fast", "rate_rps", "not a number"),
        (read_servegen_client_rates, 10, 2, "-0.5", "rate_rps", ">= 0"),
        (read_servegen_client_rates, 11, 1, "600.5", "time_s", "whole number"),
        (read_servegen_client_rates, 12, 1, "", "time_s", "empty cell"),
    ],
)
def test_bad_values_name_file_line_field_value(
    reader, line: int, col: int, value: str, field: str, expected: str, wl: Path, tmp_path: Path
) -> None:
    src = wl / FIXTURE_OF[reader]
    path = _variant(tmp_path, src, lambda ls: [*ls[: line - 1], _set(ls[line - 1], col, value), *ls[line:]])
    with pytest.raises(DataFormatError, match=expected) as err:
        reader(path)
    assert (err.value.path, err.value.row, err.value.field) == (str(path), line, field)
    text = str(err.value)
    assert f"line {line}" in text and field in text and (value in text or not value)


def test_missing_token_count_is_reported_not_filled(wl: Path, tmp_path: Path) -> None:
    src = wl / "AzureLLMInferenceTrace_code_sample.csv"
    path = _variant(tmp_path, src, lambda ls: [*ls[:3], _set(ls[3], 2, ""), *ls[4:]])
    frame, meta = read_azure_llm_2023(path)
    assert len(frame) == 30 and pd.isna(frame["generated_tokens"].iloc[2])
    assert meta.missing_values["generated_tokens"] == 1


def test_bad_anchor(wl: Path) -> None:
    with pytest.raises(WattbitInputError, match="trace_start_utc"):
        read_alibaba_gpu_pods(wl / "openb_pod_list_sample.csv", trace_start_utc="not a date")


def test_total_rate_needs_columns() -> None:
    with pytest.raises(ValueError, match="rate_rps"):
        servegen_total_rate(pd.DataFrame({"time_utc": []}))
