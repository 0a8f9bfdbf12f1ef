"""Alerts: what a detector says, about which GPU, node or site, with its evidence; grouped into episodes.

A detector emits *candidates* every time its rule holds; :class:`AlertManager` turns them into alerts: the first
candidate for a (target, kind) opens an alert, later ones within ``cooldown_s`` extend it (``last_s``, ``count``)
without a new alert, so that one degrading GPU raises one alert, not one per sample.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: Severity of each alert kind: ``critical`` a failure seen, ``warning`` a failure predicted, ``info`` data events.
SEVERITY: dict[str, str] = {
    "failure": "critical",
    "gpu_vanished": "critical",
    "node_vanished": "critical",
    "ecc_sbe_rate": "warning",
    "row_remap": "warning",
    "nvlink_crc_rate": "warning",
    "pcie_replay_rate": "warning",
    "thermal": "warning",
    "cooling": "warning",
    "coolant_flow": "warning",
    "power_excursion": "warning",
    "threshold": "warning",
    "app_xid": "info",
    "counter_reset": "info",
    "bad_value": "info",
    "stale_data": "info",
    "source_down": "info",
}
#: Kinds that predict a failure (they carry a probability and a horizon).
PREDICTIVE = frozenset(k for k, v in SEVERITY.items() if v == "warning")
#: A predictive alert whose calibrated failure probability is below this is reported as ``info``: an anomaly worth a
#: look, not a failure prediction (on the twin's tuning seeds the thermal-drift and node-cooling rules fail 5-7 times
#: in 100, every other predictive kind at least 40 times). A setting of :class:`AlertManager`.
MIN_FAILURE_PROBABILITY = 0.2


@dataclass
class Alert:
    """One alert.

    Attributes
    ----------
    time_s
        When it opened (Unix seconds; simulated time in the twin's evaluation).
    site, node, gpu
        Its target: a GPU (``gpu`` >= 0 on ``node``), a node (``gpu`` -1), or a site (``node`` empty).
    kind, severity
        What was seen (:data:`SEVERITY`).
    evidence
        The series and values behind it (name -> value, plus the threshold).
    probability, horizon_h
        For predictions: the chance that the target fails within ``horizon_h`` hours, from the calibration.
    last_s, count
        Last candidate of the episode and how many candidates it gathered.
    """

    time_s: float
    site: str
    node: str
    gpu: int
    kind: str
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    probability: float | None = None
    horizon_h: float | None = None
    last_s: float = 0.0
    count: int = 1

    @property
    def key(self) -> tuple[str, str, int, str]:
        """(site, node, gpu, kind): what an episode is about."""
        return (self.site, self.node, self.gpu, self.kind)

    @property
    def alert_id(self) -> str:
        """A stable id from the key and the opening time."""
        raw = f"{self.site}|{self.node}|{self.gpu}|{self.kind}|{self.time_s:.3f}"
        return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with ``alert_id``)."""
        out = asdict(self)
        out["alert_id"] = self.alert_id
        return out

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), default=float, sort_keys=True)


class AlertManager:
    """Opens and extends alert episodes from candidates (see the module docstring).

    Parameters
    ----------
    cooldown_s
        A candidate within this long of the last one of its (target, kind) extends that alert.
    calibration
        Kind -> (probability, horizon [h]) given to predictive alerts.
    min_probability
        Predictive alerts calibrated below this failure probability are reported with severity ``info`` (their
        evidence says so): they do not claim a failure.
    """

    def __init__(
        self,
        cooldown_s: float = 6 * 3600.0,
        calibration: dict[str, tuple[float, float]] | None = None,
        min_probability: float = MIN_FAILURE_PROBABILITY,
    ):
        self.cooldown_s = cooldown_s
        self.calibration = dict(calibration or {})
        self.min_probability = min_probability
        self.open: dict[tuple[str, str, int, str], Alert] = {}

    def offer(self, cand: Alert) -> Alert | None:
        """Take a candidate; return a new alert, or None when it only extends an open one."""
        prev = self.open.get(cand.key)
        if prev is not None and cand.time_s - prev.last_s <= self.cooldown_s:
            prev.last_s = max(prev.last_s, cand.time_s)
            prev.count += 1
            return None
        cand.last_s = cand.time_s
        if cand.kind in PREDICTIVE and cand.kind in self.calibration:
            cand.probability, cand.horizon_h = self.calibration[cand.kind]
            if cand.probability < self.min_probability:
                cand.severity = "info"
                cand.evidence = {**cand.evidence, "below_min_failure_probability": self.min_probability}
        self.open[cand.key] = cand
        return cand

    def expire(self, now_s: float) -> None:
        """Forget episodes quiet for longer than the cooldown."""
        for key in [k for k, a in self.open.items() if now_s - a.last_s > self.cooldown_s]:
            del self.open[key]
