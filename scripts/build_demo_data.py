"""Regenerate the embedded japan-2022 demo extract from the real public data in ../shared/data.

Usage::

    .venv/bin/python scripts/build_demo_data.py [--shared ../shared/data]

Reads ``examples/japan-2022-from-files.toml`` with wattbit's own readers, aligns every site's signals on the hourly
calendar-2022 (JST) index and writes, under ``src/wattbit/demo/japan-2022/``:

* ``signals/<site>.csv.gz`` — hourly derived series (weather, carbon intensity, the grid's carbon-free share, area
  price, area curtailment, and where the area data give them, the area's wind and solar output per installed MW);
* ``workload/`` — the Alibaba GPU v2023 pod list, the Azure LLM inference 2023 traces and the AcmeTrace GPU power
  CDFs (CC BY 4.0), gzip;
* ``provenance.json`` — for every site and signal: reader, original files, conversions, notes and gap fills, plus
  the annual totals computed here (the tests compare them with the source files).

The NOTICE and scenario.toml beside them are written by hand and kept in git.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import pandas as pd

from wattbit.data.signals import load_site_signals
from wattbit.data.wattbit_signals import SIGNAL_UNITS
from wattbit.scenario import parse_scenario

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "wattbit" / "demo" / "japan-2022"
SOURCES = REPO / "examples" / "japan-2022-from-files.toml"
TRACES = {
    "alibaba_gpu_pods.csv.gz": "workloads/alibaba-gpu-v2023-openb/openb_pod_list_default.csv",
    "azure_llm_code_2023.csv.gz": "workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv",
    "azure_llm_conv_2023.csv.gz": "workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv",
    "acmetrace_gpu_power_kalos.csv.gz": "workloads/acmetrace-gpu-power-cdfs/gpu_power_kalos.csv",
    "acmetrace_gpu_power_seren.csv.gz": "workloads/acmetrace-gpu-power-cdfs/gpu_power_seren.csv",
}
#: Area per-MW profiles are written with 3 decimals (0.1 % of capacity) to keep the extract small.
PROFILE_COLUMNS = ("wind_cf_area", "solar_cf_area")
#: Derived columns rounded to keep the extract under 1 MB: far below the precision of their emission factors.
ROUNDING = {"carbon_g_per_kwh": 1, "cfe_pct": 2, **dict.fromkeys(PROFILE_COLUMNS, 3)}
SERVEGEN = "workloads/alibaba-servegen-client-rates/language_m-large_client_rates.csv.gz"
SERVEGEN_OUT = "servegen_m-large_total_rate.csv.gz"
COLUMNS = [c for c in SIGNAL_UNITS if c != "temp_wetbulb_c"]


def _gzip_copy(src: Path, dst: Path) -> None:
    with src.open("rb") as fin, gzip.GzipFile(dst, "wb", mtime=0) as fout:
        shutil.copyfileobj(fin, fout)


def _servegen_total(src: Path, dst: Path) -> None:
    """ServeGen m-large: the model's total request rate per 10-minute window (sum over clients), in the client-rate
    format with one client (0) so that the same reader reads it; inter-arrival fits are per client, so left empty."""
    frame = pd.read_csv(src)
    total = frame.groupby("time_s", sort=True)["rate_rps"].sum()
    table = pd.DataFrame(
        {
            "client_chunk": 0,
            "time_s": total.index,
            "rate_rps": total.to_numpy(),
            "cv": "",
            "iat_dist": "",
            "param1": "",
            "param2": "",
        }
    )
    with gzip.GzipFile(dst, "wb", mtime=0) as fh:
        fh.write(table.to_csv(index=False, float_format="%.6g").encode())


def build(shared: Path, out: Path = OUT) -> dict[str, object]:
    """Write the extract to ``out``; return the provenance record."""
    text = SOURCES.read_text(encoding="utf-8").replace("../../shared/data", shared.resolve().as_posix())
    scenario = parse_scenario(text, SOURCES)
    (out / "signals").mkdir(parents=True, exist_ok=True)
    (out / "workload").mkdir(parents=True, exist_ok=True)
    sites: dict[str, object] = {}
    for site in scenario.sites:
        signals, prov = load_site_signals(site, scenario.period)
        table = signals[COLUMNS].copy()
        table = table.drop(columns=[c for c in PROFILE_COLUMNS if table[c].isna().all()])
        for c, decimals in ROUNDING.items():
            if c in table:
                table[c] = table[c].round(decimals)
        with gzip.GzipFile(out / "signals" / f"{site.name}.csv.gz", "wb", mtime=0) as fh:
            fh.write(table.to_csv(float_format="%.6g", date_format="%Y-%m-%dT%H:%M:%SZ").encode())
        record = prov.to_dict()
        for source in record["sources"].values():
            source["paths"] = [str(Path(p).resolve().relative_to(shared.resolve())) for p in source.get("paths", [])]
        record["annual"] = {
            **{f"{c}_mean": float(table[c].mean()) for c in PROFILE_COLUMNS if c in table},
            "curtailed_mwh": float(table["curtailed_mwh"].sum()),
            "carbon_g_per_kwh_mean": float(table["carbon_g_per_kwh"].mean()),
            "cfe_pct_mean": float(table["cfe_pct"].mean()),
            "price_jpy_per_mwh_mean": float(table["price_jpy_per_mwh"].mean()),
            "temp_air_c_mean": float(table["temp_air_c"].mean()),
        }
        sites[site.name] = record
    for name, rel in TRACES.items():
        _gzip_copy(shared / rel, out / "workload" / name)
    _servegen_total(shared / SERVEGEN, out / "workload" / SERVEGEN_OUT)
    provenance = {
        "scenario": scenario.name,
        "period": {"start": scenario.period.start.isoformat(), "end": scenario.period.end.isoformat(), "step": "1h"},
        "units": {c: SIGNAL_UNITS[c] for c in COLUMNS},
        "sites": sites,
        "workload": {**TRACES, SERVEGEN_OUT: f"{SERVEGEN} (derived: total rate over clients per 10-min window)"},
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    prov = build(args.shared, args.out)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)")
    for name, rec in prov["sites"].items():  # type: ignore[attr-defined]
        print(name, rec["annual"], rec["fills"])


if __name__ == "__main__":
    main()
