"""The scenario schema: loading, built-ins and the error messages users see."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from wattbit.errors import ScenarioError
from wattbit.scenario import load_scenario, parse_scenario

MINIMAL = """
[scenario]
name = "t"

[period]
start = 2022-01-01T00:00:00+09:00
end = 2022-01-02T00:00:00+09:00
step = "15min"

[[sites]]
name = "a"
latitude_deg = 38.0
longitude_deg = 140.0
grid_area = "tohoku"
it = { gpu_count = 64 }
grid_connection_mw = 1
[sites.data]
weather = { reader = "jma_hourly", path = "weather/sendai.csv" }
carbon = { builtin = "japan-2022:fukushima" }
price = { builtin = "japan-2022:fukushima" }
curtailment = { assume_zero = "none in this area" }
"""


def test_builtin_japan_2022() -> None:
    sc = load_scenario("japan-2022")
    assert [s.name for s in sc.sites] == ["fukushima", "ishikari", "inzai"]
    assert [s.grid_area for s in sc.sites] == ["tohoku", "hokkaido", "tokyo"]
    index = sc.period.index_utc()
    assert len(index) == 365 * 96
    assert index[0] == pd.Timestamp("2021-12-31T15:00", tz="UTC")


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "s.toml"
    f.parent.mkdir()
    f.write_text(MINIMAL, encoding="utf-8")
    sc = load_scenario(f)
    assert sc.sites[0].data.weather.path == [(tmp_path / "sub" / "weather" / "sendai.csv").resolve()]
    assert sc.sites[0].it.gpu_model == "H100-SXM"  # default


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("gpu_count = 64", "gpu_count = -3", r"sites\[0\]\.it\.gpu_count = -3: Input should be greater than 0"),
        ('grid_area = "tohoku"', 'grid_area = "mars"', r"sites\[0\]\.grid_area = 'mars': unknown grid area"),
        ('step = "15min"', 'step = "7min"', r"period\.step = '7min': .* must be positive and divide a day"),
        ("latitude_deg = 38.0", "latitude_deg = 138.0", r"sites\[0\]\.latitude_deg = 138\.0: Input should be less"),
        (
            "start = 2022-01-01T00:00:00+09:00",
            "start = 2022-01-01T00:00:00",
            r"period\.start = .*needs a UTC offset",
        ),
        ('curtailment = { assume_zero = "none in this area" }', "curtailment = {}", r"give exactly one of path"),
        (
            "it = { gpu_count = 64 }",
            "it = { gpu_count = 64, gpus = 3 }",
            r"sites\[0\]\.it\.gpus = 3: not a field of \[sites\.it\]; it belongs in \[plan\.target\]",
        ),
        ('[scenario]\nname = "t"', "[scenario]", r"scenario\.name = \(missing\): Field required"),
    ],
)
def test_validation_errors_name_file_field_value_and_expectation(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in MINIMAL
    f = tmp_path / "bad.toml"
    f.write_text(MINIMAL.replace(old, new), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    text = str(info.value)
    assert text.startswith(str(f))
    assert re.search(expected, text), text


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("gpu_count = 64", "gpu_count = 0").replace(
        "grid_connection_mw = 1", "grid_connection_mw = 0"
    )
    with pytest.raises(ScenarioError, match=r"2 problems in the scenario"):
        parse_scenario(text, tmp_path / "x.toml")


def test_duplicate_site_names(tmp_path: Path) -> None:
    site = MINIMAL[MINIMAL.index("[[sites]]") :]
    with pytest.raises(ScenarioError, match=r"site names must be unique; repeated: \['a'\]"):
        parse_scenario(MINIMAL + site, tmp_path / "x.toml")


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("[scenario\nname = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken.toml: not valid TOML: .*line 1"):
        load_scenario(f)


def test_missing_file_mentions_builtins(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"no such scenario file \(and not a built-in scenario: japan-2022\)"):
        load_scenario(tmp_path / "nope.toml")


def test_period_must_be_whole_steps(tmp_path: Path) -> None:
    text = MINIMAL.replace("end = 2022-01-02T00:00:00+09:00", "end = 2022-01-02T00:10:00+09:00")
    with pytest.raises(ScenarioError, match=r"not a whole number of steps of 15min"):
        parse_scenario(text, tmp_path / "x.toml")


def test_example_from_files_validates(shared_data: Path) -> None:
    sc = load_scenario(Path(__file__).resolve().parents[1] / "examples" / "japan-2022-from-files.toml")
    assert sc.name == "japan-2022-from-files"
    for site in sc.sites:
        for kind in ("weather", "carbon", "price"):
            source = getattr(site.data, kind)
            assert source.path and all(p.exists() for p in source.path), (site.name, kind)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "gpu_count = 64",
            "gpu_count = 64, rack = 3",
            r"sites\[0\]\.it\.rack = 3: not a field of \[sites\.it\]; did you mean `rack_kw`\?",
        ),
        (
            'grid_area = "tohoku"',
            'grid_area = "tohoku"\ngpu_model = "H100"',
            r"not a field of \[\[sites\]\]; it belongs in \[sites\.it\]",
        ),
        (
            'step = "15min"',
            'step = "15min"\ndiscount_rate = 0.05',
            r"period\.discount_rate = 0\.05: not a field of \[period\]; it belongs in \[finance\]",
        ),
        ('name = "t"', 'name = "t"\n[finance]\nmax_site_share = 0.5', r"it belongs in \[plan\.constraints\]"),
    ],
)
def test_a_field_in_the_wrong_table_is_told_where_it_belongs(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario(MINIMAL.replace(old, new), tmp_path / "s.toml")


def test_a_finance_instrument_under_its_library_name_is_told_its_table(tmp_path: Path) -> None:
    text = MINIMAL + '\n[plan]\ncandidates = [{ site = "a", max_it_mw = 1, max_connection_mw = 1 }]\n'
    text += "target = { gpus = 8 }\n[plan.finance]\nitc_fraction = 0.3\n"
    with pytest.raises(
        ScenarioError,
        match=r"plan\.finance\.itc_fraction = 0\.3: not a field of \[plan\.finance\]; "
        r"write it as `fraction` in \[plan\.finance\.itc\]",
    ):
        parse_scenario(text, tmp_path / "s.toml")


def test_a_missing_relative_data_file_says_what_paths_resolve_against(tmp_path: Path) -> None:
    from wattbit.data.signals import load_scenario_signals
    from wattbit.errors import DataFormatError

    f = tmp_path / "copied" / "s.toml"
    f.parent.mkdir()
    f.write_text(MINIMAL, encoding="utf-8")
    sc = load_scenario(f)
    with pytest.raises(DataFormatError) as info:
        load_scenario_signals(sc)
    message = str(info.value)
    assert "file not found" in message and "written as 'weather/sendai.csv'" in message
    assert f"relative paths in a scenario resolve against the folder of the scenario file, here {f.parent}" in message
    assert info.value.field == "sites[0].data"


def test_a_missing_relative_trace_file_says_what_paths_resolve_against(tmp_path: Path) -> None:
    from wattbit.data.registry import read_scenario_trace
    from wattbit.errors import DataFormatError

    f = tmp_path / "copied" / "s.toml"
    f.parent.mkdir()
    text = MINIMAL + '\n[workload]\ntraces = [{ reader = "alibaba_gpu_pods", path = "traces/pods.csv" }]\n'
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_scenario_trace(load_scenario(f), "alibaba_gpu_pods")
    message = str(info.value)
    assert "file not found" in message and "written as 'traces/pods.csv'" in message
    assert f"relative paths in a scenario resolve against the folder of the scenario file, here {f.parent}" in message
    assert info.value.field == "workload.traces[0].path"
