"""Sun position, as needed to tell night from missing irradiance.

Solar declination, equation of time and hour angle follow Spencer (1971), "Fourier series representation of the
position of the sun", Search 2(5):172 — accurate to about 0.1° in elevation, ample for day/night decisions. For
PV modelling wattbit uses pvlib's solar-position algorithms instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def solar_elevation_deg(times_utc: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float) -> np.ndarray:
    """Solar elevation angle above the horizon (Spencer 1971).

    Parameters
    ----------
    times_utc
        Instants, tz-aware (converted to UTC).
    latitude_deg, longitude_deg
        Position [deg], north and east positive.

    Returns
    -------
    numpy.ndarray
        Elevation [deg]; negative when the sun is below the horizon.
    """
    t = pd.DatetimeIndex(times_utc).tz_convert("UTC")
    day_angle = 2.0 * np.pi * (t.day_of_year.to_numpy() - 1) / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(day_angle)
        + 0.070257 * np.sin(day_angle)
        - 0.006758 * np.cos(2 * day_angle)
        + 0.000907 * np.sin(2 * day_angle)
        - 0.002697 * np.cos(3 * day_angle)
        + 0.00148 * np.sin(3 * day_angle)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(day_angle)
        - 0.032077 * np.sin(day_angle)
        - 0.014615 * np.cos(2 * day_angle)
        - 0.040849 * np.sin(2 * day_angle)
    )
    minutes_utc = t.hour.to_numpy() * 60.0 + t.minute.to_numpy() + t.second.to_numpy() / 60.0
    solar_time_min = minutes_utc + eot_min + 4.0 * longitude_deg
    hour_angle = np.deg2rad(solar_time_min / 4.0 - 180.0)
    lat = np.deg2rad(latitude_deg)
    sin_elev = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return np.rad2deg(np.arcsin(np.clip(sin_elev, -1.0, 1.0)))
