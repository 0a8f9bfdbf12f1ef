"""The plan report as a financier reads it: tables that add up as printed, years without separators, labelled
figures, every input with its source, the Monte Carlo with its reasons; plan.json reconciles with cash_flows.csv."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest

from tests.plan.test_plan_cli import BASIC, runner, scenario_text, write
from wattbit.cli import app
from wattbit.report.plan_report import rounded_to_total

STAGED = BASIC.replace("gpus = 6000", "schedule = [{ year = 2028, gpus = 3000 }, { year = 2030, gpus = 6000 }]")


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts, with the <section> id it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._section = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
        elif tag == "table":
            self.tables.append((self._section, []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str, section: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return [rows for sec, rows in parser.tables if sec == section]


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def staged_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "out"
    args = ["plan", str(write(tmp, scenario_text(STAGED))), "--out", str(out), "--draws", "12"]
    result = runner.invoke(app, [*args, "--executor", "serial", "--seed", "5"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_rounding_keeps_each_row_adding_up() -> None:
    items = [10.4, 10.4, 10.4, -0.6]
    rounded, total = rounded_to_total(items, sum(items))
    assert sum(rounded) == total == 31 and all(abs(r - x) < 1 for r, x in zip(rounded, items, strict=True))
    rounded, total = rounded_to_total([-3.5, -2.5, 0.2], -5.8)
    assert sum(rounded) == total == -6


def test_the_cash_flow_table_adds_up_as_printed_and_matches_the_csv(staged_run: tuple[Path, str]) -> None:
    out, _ = staged_run
    html = (out / "report.html").read_text(encoding="utf-8")
    (table,) = tables(html, "cash-flows")
    header, *rows = table
    assert header[0] == "year" and header[-1].startswith("project cash flow")
    assert "residual value [M JPY]" in header and "corporate tax [M JPY]" in header
    flows = pd.read_csv(out / "cash_flows.csv", index_col="year")
    for row in rows:
        values = [number(x) for x in row[1:]]
        assert sum(values[:-1]) == values[-1], row  # every row adds up as printed
        year = int(row[0])
        assert 2026 <= year <= 2036  # a plain year, no thousands separator
        exact = flows.loc[flows["calendar_year"] == year, "project_cash_flow_jpy"].iloc[0] / 1e6
        assert abs(values[-1] - exact) <= 0.5
    assert not re.search(r">2,0\d\d<", html)  # no year printed as "2,026" anywhere


def test_the_sites_table_total_adds_up_as_printed(staged_run: tuple[Path, str]) -> None:
    out, _ = staged_run
    html = (out / "report.html").read_text(encoding="utf-8")
    (table,) = tables(html, "sites")
    header, *rows = table
    *sites, total = rows
    assert total[0] == "total"
    for j, name in enumerate(header):
        if name in ("IT [MW]", "GPUs", "PV [MW]", "battery [MWh]", "grid [MW]", "grid import [MWh/yr]"):
            assert math.isclose(sum(number(r[j]) for r in sites), number(total[j]), abs_tol=1e-9), name
    ready = header.index("ready")
    assert all(re.fullmatch(r"\d{4}|-", r[ready]) for r in sites)


def test_plan_json_reconciles_with_the_csv(staged_run: tuple[Path, str]) -> None:
    out, _ = staged_run
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    flows = pd.read_csv(out / "cash_flows.csv", index_col="year")
    cf = flows["project_cash_flow_jpy"].to_numpy()
    assert doc["npv"] == pytest.approx(npf.npv(doc["discount_rate"], cf), rel=1e-9)
    assert doc["irr"] is None or doc["irr"] == pytest.approx(npf.irr(cf), rel=1e-6)
    assert doc["residual_value"]["final_year"] == pytest.approx(flows["residual_value_jpy"].iloc[-1])
    df = flows["discount_factor"].to_numpy()
    assert doc["residual_value"]["present_value"] == pytest.approx(float(flows["residual_value_jpy"] @ df))
    # tax per year agrees with the taxable income it is computed on
    taxable, used = flows["taxable_income_jpy"], flows["loss_used_jpy"]
    expected = np.where(taxable > 0, 0.2974 * (taxable - used), 0.0)
    np.testing.assert_allclose(flows["corporate_tax_before_credits_jpy"], expected, atol=1e-3)
    assert (flows["tax_jpy"] >= -1e-6).all()
    assert doc["cost_per_gpu_hour"] == doc["cost_per_gpu_hour_pre_tax"]
    total = flows["total_cost_jpy"].to_numpy() @ df / (flows["gpu_hours"].to_numpy() @ df)
    assert doc["cost_per_gpu_hour"] == pytest.approx(total, rel=1e-9)
    assert doc["breakeven_price_per_gpu_hour"] > doc["cost_per_gpu_hour"]  # the after-tax break-even is higher
    assert doc["payback_counted_from"]["calendar_year"] == 2026
    assert doc["carbon_accounting"].startswith("life-cycle, location-based")


def test_the_report_labels_its_figures_and_lists_its_inputs(staged_run: tuple[Path, str]) -> None:
    out, output = staged_run
    html = (out / "report.html").read_text(encoding="utf-8")
    for label in (
        "NPV (after corporate and fixed-asset tax, project cash flows)",
        "payback without the residual value (from year 0 = 2026)",
        "break-even GPU-hour price (after tax, NPV = 0)",
        "cost per GPU-hour (pre-tax, pre-financing, levelised)",
        "life-cycle, location-based (scope 2 + upstream scope 3.3), t CO2-eq",
        "Finance inputs and their sources",
        "plan.costs.price_usd_per_gpu_hour",
        "150 JPY/USD",
    ):
        assert label in html, label
    (inputs,) = tables(html, "inputs")
    assert {r[3] for r in inputs[1:]} <= {"scenario", "default", "override"}
    assert "breakeven_price_per_gpu_hour (after tax)" in output and "cost_per_gpu_hour (pre-tax)" in output


def test_draws_show_distributions_the_deterministic_case_and_their_tornado(staged_run: tuple[Path, str]) -> None:
    out, output = staged_run
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    q = doc["uncertainty"]
    assert q["deterministic"]["npv"] == pytest.approx(doc["npv"], rel=1e-12)
    names = {d["input"] for d in q["distributions"]}
    assert {"demand_multiplier", "grid_carbon_multiplier", "energy_price_multiplier"} <= names
    demand = next(d for d in q["distributions"] if d["input"] == "demand_multiplier")
    assert demand["distribution"] == "Triangular(low=0.75, mode=1, high=1.1)" and demand["source"].startswith("U")
    assert demand["p50"] < 1.0  # skewed: the median draw is below plan
    swings = [abs(b["swing_p10_to_p90"]) for b in q["tornado"]]
    assert swings == sorted(swings, reverse=True) and len(swings) == len(names)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty (Monte Carlo)" in html and "inputs at medians" in html and "Monte Carlo tornado" in html
    assert "deterministic" in output
