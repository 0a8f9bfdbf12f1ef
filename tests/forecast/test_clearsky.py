"""Clear-sky-index solar forecast: the reference, exactness on clear days, accuracy and coverage against the
profile method on cloudy weather, no look-ahead, input errors; and its use by mpc."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from wattbit.control.mpc import MPCConfig, MPCPolicy
from wattbit.errors import WattbitInputError
from wattbit.forecast import forecast
from wattbit.forecast.clearsky import clear_sky_forecast, clear_sky_reference

TIMES = pd.date_range("2022-03-01", periods=60 * 24, freq="1h", tz="UTC")
TOKYO = ([35.68], [139.77], [40.0])


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return clear_sky_reference(TIMES, *TOKYO)


def test_reference_is_dark_at_night_and_peaks_at_local_noon(reference: np.ndarray) -> None:
    day = reference[:24, 0]
    assert day.shape == (24,) and (reference >= 0).all()
    assert day[12:19].max() == 0.0  # 21:00-04:00 JST
    assert int(day.argmax()) in (2, 3)  # 11:00-13:00 JST, the hour beginning at 02 or 03 UTC
    assert 0.55 < day.max() < 0.95  # AC per W of DC on a clear March day


def test_a_clear_history_is_forecast_exactly(reference: np.ndarray) -> None:
    history = 8.0 * reference[: 40 * 24]  # an 8 MW plant under clear skies for 40 days
    fc = clear_sky_forecast(history, reference[: 40 * 24 + 36], 36, 24)
    np.testing.assert_allclose(fc.mean, 8.0 * reference[40 * 24 : 40 * 24 + 36], rtol=1e-9, atol=1e-9)
    assert fc.method == "clear_sky" and fc.calibration_size > 0
    assert (fc.mean[reference[40 * 24 : 40 * 24 + 36] == 0] == 0).all()


def _cloudy(reference: np.ndarray, seed: int = 1) -> np.ndarray:
    """Output under clouds that persist for hours: an AR(1) clear-sky index per hour, clipped to [0.05, 1]."""
    rng = np.random.default_rng(seed)
    k = np.empty(len(reference))
    k[0] = 0.7
    for t in range(1, len(k)):
        k[t] = 0.65 + 0.9 * (k[t - 1] - 0.65) + 0.12 * rng.standard_normal()
    return 10.0 * reference * np.clip(k, 0.05, 1.0)[:, None]


def test_persistent_clouds_as_well_as_the_profile_with_calibrated_intervals(reference: np.ndarray) -> None:
    pv = _cloudy(reference)
    errors: dict[str, list[float]] = {"clear_sky": [], "profile": [], "seasonal_naive": []}
    inside = []
    for now in range(40 * 24, 58 * 24, 5):
        truth = pv[now + 1 : now + 13, 0]
        cs = clear_sky_forecast(pv[: now + 1], reference[: now + 13], 12, 24)
        errors["clear_sky"].append(float(np.abs(truth - cs.mean[:, 0]).mean()))
        for method in ("profile", "seasonal_naive"):
            other = forecast(pv[: now + 1], 12, 24, method=method).mean[:, 0]
            errors[method].append(float(np.abs(truth - other).mean()))
        day = reference[now + 1 : now + 13, 0] > 0
        inside += list(((truth >= cs.lower[:, 0] - 1e-9) & (truth <= cs.upper[:, 0] + 1e-9))[day])
    # measured: 0.441 MW against the profile's 0.444 and seasonal naive's 0.726 (10 MW plant)
    assert np.mean(errors["clear_sky"]) < 0.7 * np.mean(errors["seasonal_naive"])
    assert np.mean(errors["clear_sky"]) <= 1.0 * np.mean(errors["profile"])
    assert 0.7 <= np.mean(inside) <= 0.95  # nominal 80 %


def test_reads_nothing_after_now_and_refuses_a_short_reference(reference: np.ndarray) -> None:
    pv = _cloudy(reference)
    now = 40 * 24
    a = clear_sky_forecast(pv[: now + 1], reference[: now + 25], 24, 24)
    changed = reference.copy()
    changed[now + 25 :] *= 3.0  # beyond the horizon
    b = clear_sky_forecast(pv[: now + 1], changed[: now + 25], 24, 24)
    np.testing.assert_array_equal(a.mean, b.mean)
    with pytest.raises(WattbitInputError, match="expected the history's 961 plus the horizon's 24"):
        clear_sky_forecast(pv[: now + 1], reference[: now + 20], 24, 24)


def test_mpc_plans_with_the_clear_sky_forecast(reference: np.ndarray) -> None:
    pv = _cloudy(reference)[: 40 * 24 + 1] * 1e6
    obs = SimpleNamespace(pv_w=pv, step_h=1.0, step=40 * 24, time_utc=TIMES[40 * 24])
    policy = MPCPolicy(MPCConfig(pv_forecast="clear_sky", site_coords=((35.68, 139.77),)))
    ahead = policy._pv_ahead(obs, 36, 24)
    assert ahead.shape == (36, 1) and ahead[0, 0] == pv[-1, 0]
    night = reference[40 * 24 : 40 * 24 + 36, 0] == 0  # the policy's reference has no altitude: night alike
    assert (ahead[1:][night[1:]] == 0).all() and ahead[1:][~night[1:]].max() > 0
    # without coordinates (a policy built by hand) the generic method is used
    generic = MPCPolicy(MPCConfig(pv_forecast="clear_sky"))._pv_ahead(obs, 36, 24)
    np.testing.assert_array_equal(generic, MPCPolicy(MPCConfig(pv_forecast="profile"))._pv_ahead(obs, 36, 24))
