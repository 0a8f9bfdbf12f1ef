"""The built-in japan-2022 demo, end to end, and its figures against the original source files."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattbit.cli import app
from wattbit.data.area_supply_demand import read_area_supply_demand
from wattbit.data.jepx import read_jepx_spot

REPO = Path(__file__).resolve().parents[1]
PACKAGED = REPO / "src" / "wattbit" / "demo" / "japan-2022"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def summary(demo_out: Path) -> dict:
    return json.loads((demo_out / "summary.json").read_text())["sites"]


def _jst_2022(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.tz_convert("Asia/Tokyo").loc["2022"]


def test_report_written_with_every_site_and_plot(demo_out: Path) -> None:
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    for needle in ("fukushima", "ishikari", "inzai", "Carbon intensity", "Curtailment", "Workload traces"):
        assert needle in html
    assert html.count('class="plotly-graph-div"') >= 6
    assert '<script src="http' not in html  # plotly.js is inlined: the report opens offline


def test_demo_simulates_the_fleet(demo_out: Path) -> None:
    summary = json.loads((demo_out / "simulate" / "summary.json").read_text())
    assert summary["policy"] == "baseline" and summary["jobs_completed"] > 0
    assert 1.0 < summary["pue"] < 1.4 and summary["carbon_t"] > 0
    assert summary["gpu_hours_demanded"] == pytest.approx(
        summary["gpu_hours_served"] + summary["gpu_hours_unfinished"], rel=1e-9
    )
    for name in ("timeseries.parquet", "jobs.parquet", "failures.parquet"):
        assert (demo_out / "simulate" / name).stat().st_size > 0
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    assert "Simulation (baseline)" in html and "Jobs" in html
    # the per-GPU power distribution beside the AcmeTrace CDFs, and where the generation comes from
    assert "GPU power against measurements" in html and "AcmeTrace" in html
    assert "On-site generation and export" in html


def test_tohoku_curtailment_equals_source(summary: dict, shared_data: Path) -> None:
    src = pd.read_csv(shared_data / "japan/area-supply-demand/tohoku_hourly.csv", index_col=0, parse_dates=True)
    year = src.loc["2022"]  # the file is JST
    expected = year["solar_curtailed_mwh"].sum() + year["wind_curtailed_mwh"].sum()
    assert expected == 45_879 + 3_565
    assert summary["fukushima"]["curtailed_mwh"] == pytest.approx(expected, abs=1e-6)


def test_hokkaido_curtailment_equals_raw_files(summary: dict, shared_data: Path) -> None:
    folder = shared_data / "japan/area-supply-demand/raw/hokkaido"
    files = [folder / f"sup_dem_results_{q}.csv" for q in ("2021_4q", "2022_1q", "2022_2q", "2022_3q")]
    frame, _ = read_area_supply_demand(files, "hokkaido")
    year = _jst_2022(frame)
    assert len(year) == 8760
    expected = year["solar_curtailed_mwh"].sum() + year["wind_curtailed_mwh"].sum()
    assert summary["ishikari"]["curtailed_mwh"] == pytest.approx(expected, abs=1e-6)
    assert summary["inzai"]["curtailed_mwh"] == 0.0


@pytest.mark.parametrize(("site", "area"), [("fukushima", "tohoku"), ("ishikari", "hokkaido"), ("inzai", "tokyo")])
def test_mean_price_equals_jepx(summary: dict, shared_data: Path, site: str, area: str) -> None:
    folder = shared_data / "japan/jepx-spot"
    frame, _ = read_jepx_spot([folder / "spot_summary_2021.csv", folder / "spot_summary_2022.csv"], area=area)
    expected = _jst_2022(frame)["price_jpy_per_mwh"].mean()
    assert summary[site]["price_jpy_per_mwh_mean"] == pytest.approx(expected, rel=1e-6)


def test_tokyo_carbon_equals_electricity_maps(summary: dict, shared_data: Path) -> None:
    folder = shared_data / "world/electricitymaps-carbon/JP-TK"
    raw = pd.concat(pd.read_csv(f) for f in sorted(folder.glob("*.csv.gz")))
    t = pd.to_datetime(raw["Datetime (UTC)"], utc=True).dt.tz_convert("Asia/Tokyo")
    expected = raw.loc[t.dt.year == 2022, "Carbon Intensity gCO₂eq/kWh (LCA)"].mean()
    assert summary["inzai"]["carbon_g_per_kwh_mean"] == pytest.approx(expected, rel=1e-5)


def test_weather_gaps_are_recorded_not_hidden(demo_out: Path) -> None:
    prov = json.loads((demo_out / "provenance.json").read_text())
    for site in ("fukushima", "ishikari", "inzai"):
        weather = prov[site]["sources"]["weather"]
        assert weather["recorded"]["reader"] == "jma_hourly"
        assert weather["recorded_fills"], site  # each JMA station misses a few hours in 2022
    packaged = json.loads((PACKAGED / "provenance.json").read_text())
    fills = packaged["sites"]["fukushima"]["fills"]
    assert fills and "filled by hold" in fills[0]


def test_extract_is_small_and_noticed() -> None:
    size = sum(f.stat().st_size for f in PACKAGED.rglob("*") if f.is_file())
    assert size < 1_000_000
    notice = (PACKAGED / "NOTICE").read_text(encoding="utf-8")
    for source in (
        "Japan Meteorological Agency",
        "JEPX",
        "Electricity Maps",
        "Alibaba",
        "Azure",
        "AcmeTrace",
        "CC BY 4.0",
    ):
        assert source in notice


def test_build_script_regenerates_the_packaged_extract(tmp_path: Path, shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_demo_data", REPO / "scripts" / "build_demo_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(shared_data, tmp_path)
    for rel in ("signals/fukushima.csv.gz", "signals/ishikari.csv.gz", "signals/inzai.csv.gz"):
        assert gzip.decompress((tmp_path / rel).read_bytes()) == gzip.decompress((PACKAGED / rel).read_bytes()), rel
    for rel in (
        "workload/alibaba_gpu_pods.csv.gz",
        "workload/azure_llm_conv_2023.csv.gz",
        "workload/servegen_m-large_total_rate.csv.gz",
        "workload/acmetrace_gpu_power_kalos.csv.gz",
        "workload/acmetrace_gpu_power_seren.csv.gz",
    ):
        assert (tmp_path / rel).read_bytes() == (PACKAGED / rel).read_bytes()


def test_wheel_carries_the_demo_and_runs_it(tmp_path: Path) -> None:
    """What a fresh install gets: build a wheel, install it apart from the source tree and run the demo."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = wheel_dir.glob("wattbit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for rel in (
        "scenario.toml",
        "NOTICE",
        "provenance.json",
        "signals/inzai.csv.gz",
        "workload/alibaba_gpu_pods.csv.gz",
    ):
        assert f"wattbit/demo/japan-2022/{rel}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    out = tmp_path / "out"
    code = "import sys; from wattbit.cli import main; sys.argv = ['wattbit', 'demo', '--out', sys.argv[1]]; main()"
    run = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert (out / "report.html").stat().st_size > 100_000


def test_demo_compares_the_policies_on_two_spring_weeks(demo_out: Path) -> None:
    bench = json.loads((demo_out / "bench" / "bench.json").read_text())
    assert bench["period"][0].startswith("2022-04-10") and bench["period"][1].startswith("2022-04-24")
    assert list(bench["policies"]) == ["baseline", "greedy", "mpc", "oracle"] and "oracle_bound" in bench
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    assert 'id="bench"' in html and "Policy comparison, 2022-04-10 to 2022-04-24" in html
    assert "oracle_bound (plan, a bound)" in html
