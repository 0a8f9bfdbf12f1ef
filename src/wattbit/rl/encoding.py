"""The observation vector of the reinforcement-learning environment, built from an engine :class:`Observation`.

The vector is built from the :class:`~wattbit.sim.policy.Observation` alone, so it holds only the present and the
past (the engine's guarantee), and the environment and :class:`~wattbit.rl.policy.EnvPolicy` produce the same
vector from the same step. Layout (``docs/rl.md``): ``SITE_FEATURES`` per site, site after site in scenario order,
then ``FLEET_FEATURES``. Every feature is divided by a documented scale (:class:`ObservationScales`) and clipped to
the bounds of :func:`observation_bounds`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from wattbit.sim.policy import Observation
from wattbit.units import Float32Array, check_number

#: Per-site features, in order.
SITE_FEATURES = (
    "carbon",  # grid carbon intensity / carbon_g_per_kwh
    "price",  # day-ahead price / price_jpy_per_mwh
    "curtailment",  # area curtailment this step / curtailed_mwh
    "onsite_generation",  # (PV + wind) / rated IT power of the site
    "temperature",  # dry-bulb air temperature / temp_c
    "gpus_available",  # GPUs not out for repair / installed
    "gpus_free",  # GPUs a job could start on now / installed
    "gpus_training",  # GPUs running training jobs / installed
    "gpus_inference",  # GPUs held for online inference / installed
    "battery_soc",  # stored energy / battery energy rating (0 where none)
)
#: Fleet-wide features, in order.
FLEET_FEATURES = (
    "queued_gpu_h",  # work waiting in the queue / (installed GPUs x queue_horizon_h)
    "min_slack",  # tightest deadline slack of a queued job / slack_h (upper bound when none has a deadline)
    "queued_jobs",  # jobs waiting / queued_jobs
    "hour_sin",
    "hour_cos",  # time of day (UTC)
    "doy_sin",
    "doy_cos",  # day of year
    "dow_sin",
    "dow_cos",  # day of week (UTC)
)
#: Bounds of each feature after scaling (values beyond are clipped).
_SITE_BOUNDS = {
    "carbon": (0.0, 5.0),
    "price": (-10.0, 10.0),
    "curtailment": (0.0, 100.0),
    "onsite_generation": (0.0, 100.0),
    "temperature": (-5.0, 5.0),
    "gpus_available": (0.0, 1.0),
    "gpus_free": (0.0, 1.0),
    "gpus_training": (0.0, 1.0),
    "gpus_inference": (0.0, 1.0),
    "battery_soc": (0.0, 1.0),
}
_FLEET_BOUNDS = {
    "queued_gpu_h": (0.0, 1000.0),
    "min_slack": (-10.0, 10.0),
    "queued_jobs": (0.0, 1000.0),
}


@dataclass(frozen=True)
class ObservationScales:
    """Divisors that bring each observed quantity to order one (defaults sized for the japan-2022 demo, in JPY).

    Attributes
    ----------
    carbon_g_per_kwh
        Grid carbon intensity scale [gCO2/kWh].
    price_jpy_per_mwh
        Price scale [JPY/MWh] (JEPX day-ahead prices lie mostly between 5,000 and 30,000 JPY/MWh).
    curtailed_mwh
        Area curtailment per step scale [MWh].
    temp_c
        Air temperature scale [°C].
    queue_horizon_h
        Queued work is given as GPU-hours per installed GPU over this many hours [h].
    slack_h
        Deadline slack scale [h]; a queue without deadlines reads as the upper bound (10 x slack_h).
    queued_jobs
        Queue length scale [jobs].
    """

    carbon_g_per_kwh: float = 1000.0
    price_jpy_per_mwh: float = 50_000.0
    curtailed_mwh: float = 1000.0
    temp_c: float = 40.0
    queue_horizon_h: float = 24.0
    slack_h: float = 24.0
    queued_jobs: float = 1000.0

    def __post_init__(self) -> None:
        for f in fields(self):
            check_number(getattr(self, f.name), f"scales.{f.name}", 0.0, lo_open=True, what="observation scale")


def observation_size(n_sites: int) -> int:
    """Length of the observation vector for ``n_sites`` sites."""
    return len(SITE_FEATURES) * n_sites + len(FLEET_FEATURES)


def feature_names(site_names: tuple[str, ...]) -> list[str]:
    """Name of every entry of the observation vector (``site:feature`` per site, then the fleet features)."""
    return [f"{site}:{name}" for site in site_names for name in SITE_FEATURES] + list(FLEET_FEATURES)


def observation_bounds(n_sites: int) -> tuple[Float32Array, Float32Array]:
    """Lower and upper bound of every entry of the observation vector."""
    site = np.array([_SITE_BOUNDS[name] for name in SITE_FEATURES], dtype=np.float32)
    fleet = np.array([_FLEET_BOUNDS.get(name, (-1.0, 1.0)) for name in FLEET_FEATURES], dtype=np.float32)
    bounds = np.concatenate([np.tile(site, (n_sites, 1)), fleet])
    return bounds[:, 0].copy(), bounds[:, 1].copy()


class ObservationEncoder:
    """Turns engine observations into observation vectors, keeping the fleet's static facts between calls.

    Parameters
    ----------
    scales
        Divisors of the observed quantities; default :class:`ObservationScales`.
    """

    def __init__(self, scales: ObservationScales | None = None) -> None:
        self.scales = scales or ObservationScales()
        self._plants: tuple[object, ...] | None = None
        self._rated_w = self._energy_mwh = np.zeros(0)
        self._low, self._high = observation_bounds(0)

    def _static(self, obs: Observation) -> None:
        """Rated IT power, battery energy and bounds of the fleet of ``obs`` (computed once per fleet)."""
        if obs.plants is not self._plants:
            self._rated_w = np.array([plant.rated_it_dc_w for plant in obs.plants])
            self._energy_mwh = np.array([0.0 if b is None else b.energy_mwh for b in obs.batteries])
            self._low, self._high = observation_bounds(len(obs.plants))
            self._plants = obs.plants

    def __call__(self, obs: Observation) -> Float32Array:
        """The observation vector of step ``obs.step`` (float32, clipped to :func:`observation_bounds`).

        Parameters
        ----------
        obs
            What the engine shows a policy at this step (present and past only).

        Returns
        -------
        numpy.ndarray
            Shape ``(observation_size(sites),)``, laid out as :func:`feature_names`.
        """
        self._static(obs)
        site = self._site_matrix(obs)
        vector = np.concatenate([site.ravel(), self._fleet_vector(obs)]).astype(np.float32)
        return np.clip(vector, self._low, self._high)

    def _site_matrix(self, obs: Observation) -> NDArray[np.float64]:
        """(sites, SITE_FEATURES) of the current step."""
        scales, n = self.scales, len(obs.site_names)
        total = np.maximum(obs.gpus_total.astype(float), 1.0)
        training = np.bincount(obs.running.site.astype(np.int64), weights=obs.running.gpus, minlength=n)
        energy = self._energy_mwh
        soc = np.divide(obs.battery_soc_mwh, energy, out=np.zeros(n), where=energy > 0)
        columns = (
            obs.carbon_g_per_kwh[-1] / scales.carbon_g_per_kwh,
            obs.price_jpy_per_mwh[-1] / scales.price_jpy_per_mwh,
            obs.curtailed_mwh[-1] / scales.curtailed_mwh,
            (obs.pv_w[-1] + obs.wind_w[-1]) / self._rated_w,
            obs.temp_db_c[-1] / scales.temp_c,
            obs.gpus_available / total,
            obs.gpus_free / total,
            training / total,
            obs.inference_gpus / total,
            soc,
        )
        return np.column_stack(columns)

    def _fleet_vector(self, obs: Observation) -> NDArray[np.float64]:
        """The FLEET_FEATURES of the current step."""
        scales, queue = self.scales, obs.queue
        queued_gpu_h, slack = 0.0, _FLEET_BOUNDS["min_slack"][1]
        if len(queue):
            remaining_h = queue.remaining_h
            queued_gpu_h = float(queue.gpus.astype(float) @ remaining_h)
            # a job's deadline lies within the step before its deadline_step: count from that step's start
            slack_h = (queue.deadline_step - 1 - obs.step) * obs.step_h - remaining_h
            slack = min(slack, float(slack_h.min()) / scales.slack_h)
        t = obs.time_utc
        day = (t.hour + t.minute / 60.0) / 24.0
        year = (t.day_of_year - 1 + day) / (366.0 if t.is_leap_year else 365.0)
        week = (t.day_of_week + day) / 7.0
        angles = 2.0 * np.pi * np.array([day, year, week])
        return np.array(
            [
                queued_gpu_h / (float(obs.gpus_total.sum()) * scales.queue_horizon_h),
                slack,
                len(queue) / scales.queued_jobs,
                *np.column_stack([np.sin(angles), np.cos(angles)]).ravel(),
            ]
        )


def encode_observation(obs: Observation, scales: ObservationScales | None = None) -> Float32Array:
    """The observation vector of one step (see :class:`ObservationEncoder`, which is faster for many steps)."""
    return ObservationEncoder(scales)(obs)
