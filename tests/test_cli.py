"""The command line: user mistakes give a clear message and exit status 2, never a traceback."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from wattbit import __version__
from wattbit.cli import LOG_HANDLER, app

runner = CliRunner()


@pytest.mark.parametrize(
    ("rel", "reader"),
    [
        ("japan/weather-jma/sendai_hourly.csv.gz", "jma_hourly"),
        ("japan/jepx-spot/spot_summary_2022.csv", "jepx_spot"),
        ("japan/area-supply-demand/tohoku_hourly.csv", "tohoku_hourly"),
        ("japan/area-supply-demand/raw/kyushu/area_jyukyu_jisseki_2022_1Q.csv", "area_supply_demand"),
        ("japan/area-supply-demand/raw/hokkaido/sup_dem_results_2022_1q.csv", "area_supply_demand"),
        ("world/electricitymaps-carbon/JP-TK/JP-TK_2022_hourly.csv.gz", "electricitymaps_hourly"),
        ("world/weather-epw-us/USA_AZ_Phoenix-Sky.Harbor.epw.gz", "epw"),
        ("workloads/alibaba-gpu-v2023-openb/openb_pod_list_default.csv", "alibaba_gpu_pods"),
        ("workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv", "azure_llm_2023"),
        ("workloads/alibaba-servegen-client-rates/language_m-small_client_rates.csv.gz", "servegen_client_rates"),
    ],
)
def test_inspect_names_the_reader_span_and_units(shared_data: Path, rel: str, reader: str) -> None:
    result = runner.invoke(app, ["data", "inspect", str(shared_data / rel)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"reader: {reader}\n")
    assert "units:" in result.output
    assert ("span (UTC" in result.output) or ("rows:" in result.output)


def test_inspect_reports_gaps(tmp_path: Path, fixtures_dir: Path) -> None:
    lines = (fixtures_dir / "jma" / "sendai_2022-06-20_22.csv").read_text(encoding="utf-8").splitlines()
    f = tmp_path / "sendai_gappy.csv"
    f.write_text("\n".join(lines[:10] + lines[13:]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "inspect", str(f)])
    assert result.exit_code == 0
    assert "gaps: 1 (3 periods missing)" in result.output


def test_inspect_json(fixtures_dir: Path) -> None:
    result = runner.invoke(app, ["data", "inspect", "--json", str(fixtures_dir / "jepx" / "spot_2022-12-30_31.csv")])
    assert result.exit_code == 0
    assert '"reader": "jepx_spot"' in result.output


def test_inspect_unknown_file_is_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "notes.csv"
    f.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["data", "inspect", str(f)])
    assert result.exit_code == 2
    assert "notes.csv: no wattbit reader recognises this file" in result.output
    assert "Traceback" not in result.output


def test_validate_builtin_and_bad_file(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["scenario", "validate", "japan-2022"])
    assert ok.exit_code == 0 and "site inzai: tokyo, 4096 x H100-SXM" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[scenario]\nname = "x"\n[period]\nstart = 2022-01-01T00:00:00+09:00\nend = 2021-01-01T00:00:00+09:00\n'
    )
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml: 2 problems in the scenario" in result.output
    assert "sites = (missing): Field required" in result.output
    assert "Traceback" not in result.output


def test_report_on_a_scenario_with_missing_data_file(tmp_path: Path) -> None:
    text = (Path(__file__).parent / "fixtures" / "scenarios" / "one_site_files.toml").read_text()
    f = tmp_path / "s.toml"
    f.write_text(text.replace("WEATHER", str(tmp_path / "nowhere.csv")))
    result = runner.invoke(app, ["scenario", "report", str(f), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "nowhere.csv: file not found" in result.output


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and sub-command under ``command`` (itself included), with the words that invoke it."""
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():  # a group (typer's own click) has sub-commands
        found += _commands(sub, (*path, name))
    return found


def _bracketed(command: Any) -> set[str]:
    """Every ``[...]`` in a command's docstring and in the help of its arguments and options."""
    texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
    return {match for text in texts for match in re.findall(r"\[[^\[\]\n]+\]", " ".join(text.split()))}


def test_help_of_every_command_keeps_bracketed_words() -> None:
    commands = _commands(typer.main.get_command(app))
    assert {" ".join(p) for p, _ in commands} >= {"", "demo", "plan", "bench", "simulate", "data inspect"}
    seen = set()
    for path, command in commands:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        shown = " ".join(result.output.split())
        assert (command.help or "").split()[0] in shown  # the docstring is shown at all
        for word in _bracketed(command):
            assert word in shown, f"wattbit {' '.join(path)} --help lost {word}: {shown}"
            seen.add(word)
    assert "[plan]" in seen  # the docstrings do hold bracketed words: the check is not vacuous


@pytest.fixture
def wattbit_logger() -> Iterator[logging.Logger]:
    """The ``wattbit`` logger, put back as it was after the test (the CLI configures it in this process)."""
    logger = logging.getLogger("wattbit")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_verbose_logs_debug_to_stderr_and_quiet_is_the_default(wattbit_logger: logging.Logger) -> None:
    solver = logging.getLogger("wattbit.opt")  # wattbit.opt shows the HiGHS banner and log where DEBUG is enabled
    quiet = runner.invoke(app, ["scenario", "validate", "japan-2022"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and not solver.isEnabledFor(logging.DEBUG)
    for flag in ("--verbose", "-v"):
        loud = runner.invoke(app, [flag, "scenario", "validate", "japan-2022"])
        assert loud.exit_code == 0, loud.output
        assert loud.stdout == quiet.stdout  # the same results; the log goes to stderr
        assert loud.stderr.splitlines() == [f"DEBUG wattbit.cli: wattbit {__version__}: scenario"]
        assert solver.isEnabledFor(logging.DEBUG)
    again = runner.invoke(app, ["scenario", "validate", "japan-2022"])  # a later quiet run in the same process
    assert again.stderr == "" and not solver.isEnabledFor(logging.DEBUG)
    assert LOG_HANDLER not in [h.get_name() for h in wattbit_logger.handlers]  # the stderr handler is taken off


def test_verbose_with_a_command_s_help() -> None:
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0 and "--verbose" in top.output
    result = runner.invoke(app, ["--verbose", "plan", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "[plan]" in " ".join(result.stdout.split())


def test_the_solver_banner_shows_only_with_verbose(tmp_path: Path) -> None:
    # HiGHS prints its banner to the process's stdout (fd 1) at the first Highs(); wattbit.opt.highs.new_highs()
    # hides it unless the wattbit.opt logger is at DEBUG. Once per process, so each run is a process of its own.
    command = [sys.executable, "-m", "wattbit.cli"]
    args = ["simulate", "japan-2022", "--policy", "oracle", "--start", "2022-01-10", "--end", "2022-01-11"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    runs = {}
    for flags in ([], ["--verbose"]):
        out = ["--out", str(tmp_path / ("verbose" if flags else "quiet"))]
        done = subprocess.run([*command, *flags, *args, *out], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        runs[bool(flags)] = done
    assert "HiGHS" not in runs[False].stdout + runs[False].stderr
    assert "Running HiGHS" in runs[True].stdout + runs[True].stderr


def test_the_simulation_summary_prints_money_with_its_currency_and_per_site_figures_on_one_line() -> None:
    from wattbit.cli.runs import summary_lines

    lines = summary_lines(
        {
            "energy_cost": 3092129.54,
            "currency": "JPY",
            "pue_by_site": {"fukushima": 1.0741, "inzai": 1.4752},
            "gpu_power": {"fukushima": {"gpu_model": "H100-SXM"}},
            "capacity_factor_flags": ["period shorter than a year", "no wind"],
            "deadline_misses": 1,
        }
    )
    assert lines == [
        "energy_cost: 3,092,130 JPY",
        "currency: JPY",
        "pue_by_site: fukushima 1.074, inzai 1.475",
        "gpu_power: (a table per site: see summary.json)",
        "capacity_factor_flags: period shorter than a year; no wind",
        "deadline_misses: 1",
    ]
