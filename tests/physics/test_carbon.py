"""Carbon intensity from a generation mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattbit.errors import WattbitInputError
from wattbit.physics.carbon import (
    DIRECT_G_PER_KWH,
    LIFECYCLE_G_PER_KWH,
    carbon_intensity_from_mix,
    default_emission_factors,
)


def test_single_source_gives_its_factor() -> None:
    mix = pd.DataFrame({"nuclear_mwh": [100.0], "solar_mwh": [0.0], "thermal_mwh": [0.0]})
    ci = carbon_intensity_from_mix(mix, default_emission_factors("kyushu"))
    assert ci.iloc[0] == pytest.approx(LIFECYCLE_G_PER_KWH["nuclear"])


def test_weighted_average_by_hand() -> None:
    mix = pd.DataFrame({"thermal_mwh": [300.0], "wind_mwh": [100.0], "pumped_storage_mwh": [-50.0]})
    f = default_emission_factors("tohoku", "direct")
    thermal = 0.55 * DIRECT_G_PER_KWH["coal"] + 0.40 * DIRECT_G_PER_KWH["lng"] + 0.05 * DIRECT_G_PER_KWH["oil"]
    assert f.thermal_g_per_kwh == pytest.approx(thermal)
    # storage and interconnectors are not generation: ignored
    assert carbon_intensity_from_mix(mix, f).iloc[0] == pytest.approx(300 * thermal / 400)


def test_lifecycle_exceeds_direct_for_every_source() -> None:
    for source, direct in DIRECT_G_PER_KWH.items():
        assert LIFECYCLE_G_PER_KWH[source] >= direct


def test_no_generation_is_nan_not_zero() -> None:
    mix = pd.DataFrame({"thermal_mwh": [0.0, 10.0], "solar_mwh": [0.0, 0.0]})
    ci = carbon_intensity_from_mix(mix, default_emission_factors("tohoku"))
    assert np.isnan(ci.iloc[0]) and ci.iloc[1] > 0


def test_overrides_and_shares() -> None:
    f = default_emission_factors("tohoku", overrides={"coal": 1000.0}, thermal_shares={"coal": 1.0})
    assert f.thermal_g_per_kwh == 1000.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"area": "atlantis"}, "no default thermal fuel split for area 'atlantis'"),
        ({"area": "tohoku", "basis": "marginal"}, "unknown basis 'marginal'"),
        ({"area": "tohoku", "overrides": {"peat": 1.0}}, "unknown source 'peat'"),
        ({"area": "tohoku", "overrides": {"coal": -5.0}}, "emission factor: coal=-5.0 must be a finite number >= 0"),
        ({"area": "tohoku", "thermal_shares": {"coal": 0.5, "lng": 0.4}}, "must be >= 0 and sum to 1"),
    ],
)
def test_bad_factors(kwargs: dict, message: str) -> None:
    with pytest.raises(WattbitInputError, match=message):
        default_emission_factors(**kwargs)


def test_negative_generation_is_rejected() -> None:
    mix = pd.DataFrame({"thermal_mwh": [10.0, -1.0]})
    with pytest.raises(WattbitInputError, match="negative generation"):
        carbon_intensity_from_mix(mix, default_emission_factors("tohoku"))


def test_tohoku_2022_against_published_utility_factor(shared_data: Path) -> None:
    """Direct (combustion) intensity of Tohoku generation in 2022 lands near Tohoku EPCO's published factor.

    Tohoku Electric's reported CO2 emission factors for FY2021-FY2022 are about 0.45-0.52 kg/kWh (adjusted/basic);
    that figure includes purchases and is retail-based, so only a ±15 % agreement is expected.
    """
    df = pd.read_csv(shared_data / "japan/area-supply-demand/tohoku_hourly.csv", index_col=0, parse_dates=True)
    year = df.loc["2022"]
    ci = carbon_intensity_from_mix(year, default_emission_factors("tohoku", "direct"))
    gen = year[
        [
            c
            for c in year.columns
            if c.split("_")[0] in ("thermal", "hydro", "nuclear", "solar", "wind", "geothermal", "biomass")
            and "curtailed" not in c
        ]
    ].sum(axis=1)
    annual = float((ci * gen).sum() / gen.sum())
    assert 400 < annual < 560


def test_a_source_empty_in_every_row_is_absent_not_missing() -> None:
    import numpy as np
    import pandas as pd

    from wattbit.physics.carbon import carbon_free_share_from_mix, carbon_intensity_from_mix, default_emission_factors

    idx = pd.date_range("2022-01-01", periods=3, freq="1h", tz="UTC")
    mix = pd.DataFrame({"thermal_mwh": [100.0, 50.0, 80.0], "hydro_mwh": [100.0, 150.0, 20.0]}, index=idx)
    factors = default_emission_factors("tohoku")
    with_empty = mix.assign(geothermal_mwh=np.nan)  # Hokuriku: no geothermal plant, column left empty
    pd.testing.assert_series_equal(
        carbon_intensity_from_mix(with_empty, factors), carbon_intensity_from_mix(mix, factors)
    )
    pd.testing.assert_series_equal(carbon_free_share_from_mix(with_empty), carbon_free_share_from_mix(mix))
    # a gap in a column that has values elsewhere stays a gap
    gap = mix.assign(geothermal_mwh=[1.0, np.nan, 1.0])
    assert np.isnan(carbon_intensity_from_mix(gap, factors).iloc[1])
