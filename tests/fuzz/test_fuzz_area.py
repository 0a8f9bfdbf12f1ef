"""Fuzzing the area supply-demand readers (eight utilities' raw layouts, Shift-JIS, and the merged Tohoku file)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, fuzz_settings, load_seed, outcome, write_case
from tests.fuzz.mutations import mutated, random_bytes
from wattbit.data.area_supply_demand import read_area_supply_demand, read_tohoku_hourly

FOLDER = FIXTURES / "area_supply_demand"
#: Each raw layout's excerpt, with the area the reader is told (as a user names it) and a file name in its style.
RAW_SEEDS: list[tuple[Path, str]] = [
    (FOLDER / "2021_areabalance_current_term_excerpt.csv", "chubu"),
    (FOLDER / "area_jisseki_rikuden202212_excerpt.csv", "hokuriku"),
    (FOLDER / "area_jyukyu_jisseki_2021_excerpt.csv", "kyushu"),
    (FOLDER / "area_jyukyu_jisseki_H30_4Q_excerpt.csv", "kyushu"),
    (FOLDER / "jukyu2021_excerpt.csv", "shikoku"),
    (FOLDER / "juyo_2021_tohoku_4Q_excerpt.txt", "tohoku"),
    (FOLDER / "kako-2020_excerpt.csv", "chugoku"),
    (FOLDER / "sup_dem_results_2022_3q_excerpt.csv", "hokkaido"),
]
TOHOKU_MERGED = FOLDER / "tohoku_hourly_2022-01-01_excerpt.csv"


@st.composite
def damaged_raw_file(draw: st.DrawFn) -> tuple[bytes, str, str]:
    seed, area = draw(st.sampled_from(RAW_SEEDS))
    raw = draw(mutated(*load_seed(seed)))
    return raw, area, seed.name


@fuzz_settings(2.0)
@given(damaged_raw_file(), st.booleans())
def test_mutated_area_file_is_read_or_refused_with_its_place(case: tuple[bytes, str, str], name_area: bool) -> None:
    raw, area, name = case
    path = write_case(raw, name)
    outcome("area_supply_demand", lambda: read_area_supply_demand(path, area=area if name_area else None), path)


@fuzz_settings(0.4)
@given(random_bytes(), st.sampled_from([None, "tokyo", "kyushu"]))
def test_random_bytes_as_an_area_file(raw: bytes, area: str | None) -> None:
    path = write_case(raw, "area_jyukyu_jisseki_2021.csv")
    outcome("area_supply_demand", lambda: read_area_supply_demand(path, area=area), path)


@fuzz_settings()
@given(mutated(*load_seed(TOHOKU_MERGED)))
def test_mutated_tohoku_hourly_file_is_read_or_refused_with_its_place(raw: bytes) -> None:
    path = write_case(raw, "tohoku_hourly.csv")
    outcome("tohoku_hourly", lambda: read_tohoku_hourly(path), path)


@fuzz_settings(0.4)
@given(random_bytes())
def test_random_bytes_as_a_tohoku_hourly_file(raw: bytes) -> None:
    path = write_case(raw, "tohoku_hourly.csv")
    outcome("tohoku_hourly", lambda: read_tohoku_hourly(path), path)
