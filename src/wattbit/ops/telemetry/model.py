"""The per-GPU telemetry of a simulated fleet, a block of steps at a time: what dcgm-exporter would report.

Inputs per step and site are what the engine records (GPUs training, serving inference, available; the power cap;
the cooling setpoint). The twin does not track which GPU runs which job (the engine counts GPUs per site), so the
telemetry fills each site's nodes in a fixed random order: the first ``training`` GPUs in that order train, the next
``inference`` serve, the rest idle. GPUs a fault has taken out show as out (idle power, or gone from the output for
faults that make a GPU fall off the bus or a node go down).

Per GPU: power from the GPU model (``wattbit.physics.gpu``) with measurement noise; die and memory temperature from
:mod:`wattbit.ops.telemetry.thermal`; the counters DCGM keeps (energy, ECC, remapped rows, PCIe replays, NVLink CRC)
with the healthy fleet's background errors (:class:`Nuisance`) and the fault signatures of
:mod:`wattbit.ops.telemetry.signatures`. A GPU coming back from repair starts with zeroed counters (a new board or a
reloaded driver), as real exporters show. Everything is vectorised over steps x GPUs; the only Python loop is over
the few faults active in a block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.telemetry.inventory import Inventory
from wattbit.ops.telemetry.names import (
    CLOCK_GPU_IDLE,
    CLOCK_HW_POWER_BRAKE,
    CLOCK_HW_THERMAL,
    CLOCK_SW_POWER_CAP,
    COUNTER_KEYS,
    IDLE_SM_CLOCK_MHZ,
)
from wattbit.ops.telemetry.signatures import SIGNATURE_NAMES, FaultPlan, SignatureSettings
from wattbit.ops.telemetry.thermal import ThermalParams

TRAINING, INFERENCE, IDLE, OUT = 0, 1, 2, 3
#: Load of a GPU serving inference, as the accounting assumes (``wattbit.sim.accounting``).
INFERENCE_LOAD = 0.6
_SIG = {name: i for i, name in enumerate(SIGNATURE_NAMES)}


@dataclass(frozen=True)
class Nuisance:
    """Errors and noise of healthy GPUs that never fail (U, all drawn per run from these ranges, x ``scale``).

    A small share of GPUs have weak memory that logs sporadic single-bit errors and, rarely, a remapped row; every
    GPU sees occasional PCIe replay and NVLink CRC bursts and applications' XID 13/31/43; power and temperature
    readings carry noise; GPUs differ in thermal resistance and nodes in inlet temperature. And there are **benign
    look-alikes** of each predictable signature (``hbm_ecc``, ``nvlink``, ``pcie``, ``thermal``): the same precursor,
    at ``benign_strength``, that stops without a failure (a row remap that holds, a link that retrains, a thermal
    interface that settles), each at ``benign_per_1000_gpu_days`` — the hard negatives that bound precision.
    """

    weak_memory_share: tuple[float, float] = (0.005, 0.02)
    weak_sbe_per_day: tuple[float, float] = (0.1, 1.0)
    weak_row_remap_per_year: tuple[float, float] = (0.05, 0.3)
    pcie_bursts_per_gpu_day: tuple[float, float] = (0.002, 0.01)
    pcie_burst_size: tuple[int, int] = (1, 20)
    nvlink_bursts_per_gpu_day: tuple[float, float] = (0.002, 0.01)
    nvlink_burst_size: tuple[int, int] = (1, 100)
    app_xid_per_gpu_day: tuple[float, float] = (0.0005, 0.002)
    benign_per_1000_gpu_days: tuple[float, float] = (0.01, 0.05)
    benign_strength: tuple[float, float] = (0.3, 1.0)
    power_noise: float = 0.015
    temp_noise_k: float = 0.4
    r_th_spread: float = 0.05
    node_inlet_spread_k: float = 0.8
    scale: float = 1.0


@dataclass
class SiteInputs:
    """Per step and site (steps, sites): what the engine recorded, the inputs of :meth:`TelemetryModel.block`."""

    training: NDArray[np.int64]
    inference: NDArray[np.int64]
    cap_w: NDArray[np.float64]
    supply_temp_c: NDArray[np.float64]


@dataclass
class GpuFrame:
    """Telemetry of a block of steps, arrays (steps, GPUs), plus the XIDs raised and the site coolant flow.

    ``present`` is False where the exporter does not report the GPU (fallen off the bus, node or site down).
    Counters are cumulative as the exporter shows them. ``xid_step``/``xid_gpu``/``xid_code`` list every XID of the
    block; ``flow_fraction`` (steps, sites) is the site's coolant flow relative to design.
    """

    t0_s: float
    step_s: float
    present: NDArray[np.bool_]
    state: NDArray[np.int8]
    power_w: NDArray[np.float64]
    power_limit_w: NDArray[np.float64]
    gpu_temp_c: NDArray[np.float64]
    mem_temp_c: NDArray[np.float64]
    util_pct: NDArray[np.float64]
    sm_clock_mhz: NDArray[np.float64]
    clock_events: NDArray[np.int64]
    xid_last: NDArray[np.int64]
    counters: dict[str, NDArray[np.float64]]
    row_remap_failure: NDArray[np.int64]
    xid_step: NDArray[np.int64]
    xid_gpu: NDArray[np.int64]
    xid_code: NDArray[np.int64]
    flow_fraction: NDArray[np.float64]

    @property
    def steps(self) -> int:
        """Steps in the block."""
        return int(self.present.shape[0])

    def row(self, j: int) -> GpuFrame:
        """The one-step frame of step ``j`` of this block."""
        sl = slice(j, j + 1)
        xs = self.xid_step == j
        return GpuFrame(
            self.t0_s + j * self.step_s,
            self.step_s,
            **{k: getattr(self, k)[sl] for k in _GAUGES},
            counters={k: v[sl] for k, v in self.counters.items()},
            xid_step=np.zeros(int(xs.sum()), dtype=np.int64),
            xid_gpu=self.xid_gpu[xs],
            xid_code=self.xid_code[xs],
            flow_fraction=self.flow_fraction[sl],
        )


_GAUGES = (
    "present",
    "state",
    "power_w",
    "power_limit_w",
    "gpu_temp_c",
    "mem_temp_c",
    "util_pct",
    "sm_clock_mhz",
    "clock_events",
    "xid_last",
    "row_remap_failure",
)


def _lerp(pair: tuple[float, float], u: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * u


@dataclass
class _Effects:
    """What the active faults do to a block (filled by :meth:`TelemetryModel._apply_faults`)."""

    out: NDArray[np.bool_]
    vanish: NDArray[np.bool_]
    r_factor: NDArray[np.float64]
    inlet_extra_k: NDArray[np.float64]
    power_factor: NDArray[np.float64]
    clock_bits: NDArray[np.int64]
    inc: dict[str, NDArray[np.float64]]
    remap_failure: NDArray[np.bool_]
    xids: list[tuple[int, int, int]] = field(default_factory=list)
    resets: list[tuple[int, NDArray[np.int64]]] = field(default_factory=list)


class TelemetryModel:
    """The fleet's telemetry, stepped a block at a time (see the module docstring).

    Parameters
    ----------
    inventory
        The GPUs and their sites.
    faults
        The run's faults with their signatures (the ground truth).
    settings
        Signature settings (for the failure XIDs and vanishing).
    step_s
        Step length [s].
    seed
        Seed of the noise and of the healthy fleet's draws.
    thermal, nuisance
        Model parameters.
    tcs_delta_t_k
        Design coolant rise of the IT loops [K] (the cooling design's ``tcs_delta_t_k``).
    """

    def __init__(
        self,
        inventory: Inventory,
        faults: FaultPlan,
        settings: SignatureSettings,
        step_s: float,
        seed: int,
        thermal: ThermalParams | None = None,
        nuisance: Nuisance | None = None,
        tcs_delta_t_k: float = 10.0,
        period_s: float | None = None,
    ) -> None:
        self.inv, self.faults, self.settings, self.step_s = inventory, faults, settings, float(step_s)
        self.thermal = thermal or ThermalParams()
        self.nuisance = nuisance or Nuisance()
        self.tcs_delta_t_k = tcs_delta_t_k
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 1313, 2]))
        g, nu = inventory.n_gpus, self.nuisance
        draw = self.rng.random(8)
        self.rates = {
            "weak_sbe_per_s": _lerp(nu.weak_sbe_per_day, draw[0]) * nu.scale / 86_400,
            "weak_rows_per_s": _lerp(nu.weak_row_remap_per_year, draw[1]) * nu.scale / (365.25 * 86_400),
            "pcie_per_s": _lerp(nu.pcie_bursts_per_gpu_day, draw[2]) * nu.scale / 86_400,
            "nvlink_per_s": _lerp(nu.nvlink_bursts_per_gpu_day, draw[3]) * nu.scale / 86_400,
            "app_xid_per_s": _lerp(nu.app_xid_per_gpu_day, draw[4]) * nu.scale / 86_400,
        }
        n_weak = int(round(_lerp(nu.weak_memory_share, draw[5]) * min(nu.scale, 1.0) * g))
        self.weak = np.sort(self.rng.choice(g, size=min(n_weak, g), replace=False)) if n_weak else np.empty(0, int)
        self.r_scale = np.clip(1.0 + nu.r_th_spread * self.rng.standard_normal(g), 0.7, 1.3)
        node_offset = nu.node_inlet_spread_k * self.rng.standard_normal(inventory.n_nodes)
        self.inlet_offset_k = node_offset[inventory.node]
        self.rank = self._fill_order()
        self._order = np.lexsort((self.rank, inventory.site))
        site_sorted = inventory.site[self._order]
        self._site_first_sorted = np.searchsorted(site_sorted, site_sorted, side="left")
        models = inventory.models
        self.tdp_w = inventory.per_gpu(np.array([m.tdp_w for m in models]))
        self.idle_w = inventory.per_gpu(np.array([m.idle_w for m in models]))
        self.max_clock = inventory.max_sm_clock_mhz()
        self.r_th = (
            inventory.per_gpu(np.array([self.thermal.r_th_k_per_w(bool(liq)) for liq in inventory.liquid]))
            * self.r_scale
        )
        self.liquid_gpu = inventory.per_gpu(inventory.liquid)
        # counters as the exporter would find them at the start (GPUs have run a while since boot)
        uptime_s = self.rng.uniform(1, 30, g) * 86_400
        self.state: dict[str, NDArray[np.float64]] = {k: np.zeros(g) for k in COUNTER_KEYS}
        self.state["energy_mj"] = np.round(uptime_s * self.idle_w * 1.0e3 * 3.0)
        self.xid_last = np.zeros(g, dtype=np.int64)
        self.remap_failed = np.zeros(g, dtype=bool)
        self.benign = self._benign(period_s or 0.0, _lerp(nu.benign_per_1000_gpu_days, draw[6]) * nu.scale)

    def _benign(self, period_s: float, per_1000_gpu_days: float) -> FaultPlan:
        """Benign look-alikes of the predictable signatures over the period (see :class:`Nuisance`)."""
        g, rng = self.inv.n_gpus, self.rng
        kinds = [k for k in ("hbm_ecc", "nvlink", "pcie", "thermal") if k in self.settings.signatures]
        n = rng.poisson(per_1000_gpu_days / 1000.0 * g * period_s / 86_400.0 * len(kinds)) if period_s > 0 else 0
        sig = (
            np.array([_SIG[k] for k in kinds], dtype=np.int8)[rng.integers(0, len(kinds), n)]
            if n
            else np.empty(0, np.int8)
        )
        lead = np.array(
            [
                _lerp(self.settings.signatures[SIGNATURE_NAMES[s]].lead_h, u)
                for s, u in zip(sig, rng.random(n), strict=True)
            ]
        )
        end = rng.uniform(0.0, period_s, n)
        gpus = rng.integers(0, g, n)
        lo, hi = self.nuisance.benign_strength
        return FaultPlan(
            fault_id=-1 - np.arange(n, dtype=np.int64),
            site=self.inv.site[gpus],
            first_gpu=gpus.astype(np.int64),
            n_gpus=np.ones(n, dtype=np.int64),
            cause=np.zeros(n, dtype=np.int8),
            signature=sig,
            precursor_start_s=end - lead * 3600.0,
            failure_s=end,
            repair_s=np.zeros(n),
            strength=rng.uniform(lo, hi, n),
            draw=rng.random(n),
            period_start_utc=self.faults.period_start_utc,
        )

    # ------------------------------------------------------------------------------------------------- layout
    def _fill_order(self) -> NDArray[np.int64]:
        """Each GPU's place in its site's fill order: nodes in a random order, GPUs in node order."""
        inv = self.inv
        rank = np.empty(inv.n_gpus, dtype=np.int64)
        for s in range(len(inv.site_names)):
            lo, n = int(inv.site_offsets[s]), int(inv.site_gpus[s])
            nodes = inv.node[lo : lo + n] - inv.node[lo]
            perm = self.rng.permutation(int(nodes.max()) + 1 if n else 0)
            per_node = inv.models[s].gpus_per_node
            rank[lo : lo + n] = perm[nodes] * per_node + inv.gpu_index[lo : lo + n]
        return rank

    def _states(self, inputs: SiteInputs, out: NDArray[np.bool_]) -> NDArray[np.int8]:
        """Training, inference or idle by each in-service GPU's place in the fill order (GPUs out are skipped)."""
        order = self._order
        out_sorted = out[:, order].astype(np.int64)
        before = np.cumsum(out_sorted, axis=1) - out_sorted
        before -= before[:, self._site_first_sorted]  # count within the site only
        eff = np.empty_like(before)
        eff[:, order] = self.rank[order][None, :] - before
        training = self.inv.per_gpu(inputs.training)
        inference = self.inv.per_gpu(inputs.inference)
        state = np.full(out.shape, IDLE, dtype=np.int8)
        state[eff < training + inference] = INFERENCE
        state[eff < training] = TRAINING
        state[out] = OUT
        return state

    # ------------------------------------------------------------------------------------------------- block
    def block(self, k0: int, inputs: SiteInputs) -> GpuFrame:
        """Telemetry of steps ``k0 .. k0 + T - 1`` (``T`` the rows of ``inputs``); advances the counters' state."""
        t_steps, g = inputs.training.shape[0], self.inv.n_gpus
        t0 = k0 * self.step_s
        times = (t0 + self.step_s * np.arange(t_steps)).astype(np.float64)
        fx = _Effects(
            out=np.zeros((t_steps, g), dtype=bool),
            vanish=np.zeros((t_steps, g), dtype=bool),
            r_factor=np.ones((t_steps, g)),
            inlet_extra_k=np.zeros((t_steps, g)),
            power_factor=np.ones((t_steps, g)),
            clock_bits=np.zeros((t_steps, g), dtype=np.int64),
            inc={k: np.zeros((t_steps, g)) for k in COUNTER_KEYS if k != "energy_mj"},
            remap_failure=np.zeros((t_steps, g), dtype=bool),
        )
        flow = np.ones((t_steps, len(self.inv.site_names)))
        self._nuisance(t_steps, fx)
        self._apply_faults(times, fx, flow)
        flow *= 1.0 + 0.005 * self.rng.standard_normal(flow.shape)  # flow meter noise (U: 0.5 %)
        state = self._states(inputs, fx.out | fx.vanish)
        return self._render(k0, t0, times, inputs, state, fx, flow)

    def _nuisance(self, t_steps: int, fx: _Effects) -> None:
        """The healthy fleet's sporadic errors, drawn sparse (few per block) and added to the increments."""
        g, dt, rng, nu = self.inv.n_gpus, self.step_s, self.rng, self.nuisance

        def scatter(key: str, gpus: NDArray[np.int64], size: tuple[int, int] | None) -> None:
            steps = rng.integers(0, t_steps, gpus.shape[0])
            amount = np.ones(gpus.shape[0]) if size is None else rng.integers(size[0], size[1] + 1, gpus.shape[0])
            np.add.at(fx.inc[key], (steps, gpus), amount)

        n_weak = self.weak.shape[0]
        if n_weak:
            k = rng.poisson(self.rates["weak_sbe_per_s"] * dt * t_steps * n_weak)
            scatter("ecc_sbe", rng.choice(self.weak, k), None)
            k = rng.poisson(self.rates["weak_rows_per_s"] * dt * t_steps * n_weak)
            scatter("rows_correctable", rng.choice(self.weak, k), None)
        for key, rate, size in (
            ("pcie_replay", "pcie_per_s", nu.pcie_burst_size),
            ("nvlink_crc", "nvlink_per_s", nu.nvlink_burst_size),
        ):
            scatter(key, rng.integers(0, g, rng.poisson(self.rates[rate] * dt * t_steps * g)), size)
        for _ in range(rng.poisson(self.rates["app_xid_per_s"] * dt * t_steps * g)):
            fx.xids.append((int(rng.integers(t_steps)), int(rng.integers(g)), int(rng.choice([13, 31, 43]))))

    def _apply_faults(self, times: NDArray[np.float64], fx: _Effects, flow: NDArray[np.float64]) -> None:
        self._apply_plan(self.faults, times, fx, flow, benign=False)
        self._apply_plan(self.benign, times, fx, flow, benign=True)

    def _apply_plan(
        self, plan: FaultPlan, times: NDArray[np.float64], fx: _Effects, flow: NDArray[np.float64], benign: bool
    ) -> None:
        """The precursors of ``plan``'s active faults, and unless ``benign`` their failures and repairs."""
        dt = self.step_s
        t0, t1 = float(times[0]), float(times[-1]) + dt
        for i in plan.active(t0, t1).tolist():
            sig = self.settings.signatures[SIGNATURE_NAMES[int(plan.signature[i])]]
            gpus = np.arange(plan.first_gpu[i], plan.first_gpu[i] + plan.n_gpus[i])
            if sig.scope == "node":
                node = self.inv.node[gpus[0]]
                gpus = np.flatnonzero(self.inv.node == node)
            fail, pre, rep = plan.failure_s[i], plan.precursor_start_s[i], plan.repair_s[i]
            # steps whose interval contains the failure / lies in the precursor / in the repair
            after = times + dt > fail
            down = after & (times < fail + rep) if rep > 0 else np.zeros_like(after)
            span = max(fail - pre, 1.0)
            x = np.clip((times + dt - pre) / span, 0.0, 1.0) * ~after
            x_start = np.clip((times - pre) / span, 0.0, 1.0) * ~after
            k_fail = int(np.argmax(after)) if after.any() and times[0] <= fail else -1
            if benign:
                self._signature(sig.name, i, gpus, (x_start, x), -1, fx, flow, plan)
                continue
            self._signature(sig.name, i, gpus, (x_start, x), k_fail, fx, flow, plan)
            if rep > 0:
                (fx.vanish if sig.vanish else fx.out)[np.ix_(down, gpus)] = True
                back = (times >= fail + rep) & (times - dt < fail + rep)
                if back.any() and sig.scope in ("gpu", "node"):
                    fx.resets.append((int(np.argmax(back)), gpus))
            if k_fail >= 0 and sig.failure_xids:
                code = sig.failure_xids[int(plan.draw[i] * len(sig.failure_xids)) % len(sig.failure_xids)]
                codes = sig.failure_xids if sig.name in ("hbm_ecc", "sram_ecc") else (code,)
                fx.xids.extend((k_fail, int(gpus[0]), c) for c in codes)

    def _signature(
        self,
        name: str,
        i: int,
        gpus: NDArray[np.int64],
        xs: tuple[NDArray[np.float64], NDArray[np.float64]],
        k_fail: int,
        fx: _Effects,
        flow: NDArray[np.float64],
        plan: FaultPlan,
    ) -> None:
        """Add fault ``i``'s precursor and failure marks; ``xs`` is its progress 0..1 over the lead at the start
        and the end of each step (0 from the failure on)."""
        rng, h = self.rng, self.step_s / 3600.0
        s, u = float(plan.strength[i]), float(plan.draw[i])
        x_start, x = xs
        active = x > 0
        if name in ("hbm_ecc", "sram_ecc"):
            r_end = _lerp((2.0, 20.0) if name == "hbm_ecc" else (5.0, 50.0), u) * s
            fx.inc["ecc_sbe"][:, gpus] += rng.poisson(r_end * x**2 * h)[:, None]
            if name == "hbm_ecc":
                total = _lerp((2.0, 8.0), u) * s
                rows = np.floor(total * x**1.5) - np.floor(total * x_start**1.5)
                fx.inc["rows_correctable"][:, gpus] += np.maximum(rows, 0)[:, None]
            if k_fail >= 0:
                fx.inc["ecc_dbe"][k_fail, gpus] += 1 + int(u * 2)
                if name == "hbm_ecc":
                    fx.inc["rows_uncorrectable"][k_fail, gpus] += 1
                    fx.remap_failure[k_fail:, gpus] = u > 0.7
        elif name in ("nvlink", "pcie"):
            key, span = ("nvlink_crc", (50.0, 2000.0)) if name == "nvlink" else ("pcie_replay", (5.0, 200.0))
            fx.inc[key][:, gpus] += rng.poisson(_lerp(span, u) * s * x**2 * h)[:, None]
        elif name == "thermal":
            fx.r_factor[:, gpus] *= (1.0 + _lerp((0.3, 1.0), u) * s * x)[:, None]
            if k_fail >= 0:
                fx.clock_bits[k_fail, gpus] |= CLOCK_HW_THERMAL
        elif name in ("psu", "power_chain"):
            p = np.clip((0.05 + 0.45 * x) * s, 0, 1) * active
            hit = rng.random((x.shape[0], gpus.shape[0])) < p[:, None]
            dip = rng.uniform(0.4, 0.8, hit.shape)
            fx.power_factor[:, gpus] = np.where(hit, fx.power_factor[:, gpus] * dip, fx.power_factor[:, gpus])
            fx.clock_bits[:, gpus] |= np.where(hit, CLOCK_HW_POWER_BRAKE, 0)
        elif name == "cooling_loop":
            f = 1.0 - np.clip(_lerp((0.3, 0.7), u) * s, 0.0, 0.9) * x
            # slower coolant: warmer water along the loop, and a weaker convective film on the cold plates
            fx.inlet_extra_k[:, gpus] += (0.5 * self.tcs_delta_t_k * (1.0 / f - 1.0))[:, None]
            fx.r_factor[:, gpus] *= (0.3 + 0.7 * f**-0.8)[:, None]
            site = int(plan.site[i])
            share = gpus.shape[0] / max(int(self.inv.site_gpus[site]), 1)
            flow[:, site] *= 1.0 - share * (1.0 - f)
            if k_fail >= 0:
                fx.clock_bits[k_fail, gpus] |= CLOCK_HW_THERMAL

    # ------------------------------------------------------------------------------------------------ render
    def _render(
        self,
        k0: int,
        t0: float,
        times: NDArray[np.float64],
        inputs: SiteInputs,
        state: NDArray[np.int8],
        fx: _Effects,
        flow: NDArray[np.float64],
    ) -> GpuFrame:
        rng, nu, inv = self.rng, self.nuisance, self.inv
        shape = state.shape
        cap = inv.per_gpu(inputs.cap_w)
        limit = np.where(np.isnan(cap), self.tdp_w, cap)
        full = np.minimum(self.tdp_w, limit)
        power = np.select(
            [state == TRAINING, state == INFERENCE],
            [full, self.idle_w + (np.minimum(self.tdp_w, limit) - self.idle_w) * INFERENCE_LOAD],
            self.idle_w,
        )
        power = power * (1.0 + nu.power_noise * rng.standard_normal(shape)) * fx.power_factor
        power = np.round(np.maximum(power, 0.0), 3)
        supply = inv.per_gpu(inputs.supply_temp_c)
        inlet = np.where(self.liquid_gpu, supply + self.thermal.cdu_approach_k, self.thermal.supply_air_c)
        inlet = inlet + self.inlet_offset_k + fx.inlet_extra_k
        r = self.r_th * fx.r_factor
        gpu_temp = np.round(inlet + power * r + nu.temp_noise_k * rng.standard_normal(shape))
        mem_temp = np.round(
            inlet + power * r * self.thermal.memory_r_ratio + nu.temp_noise_k * rng.standard_normal(shape)
        )
        busy = state <= INFERENCE
        util = np.where(state == TRAINING, 100 - np.abs(2 * rng.standard_normal(shape)), 0.0)
        util = np.round(np.where(state == INFERENCE, np.clip(60 + 8 * rng.standard_normal(shape), 5, 100), util))
        util = np.asarray(util, dtype=np.float64)
        clock = np.where(busy, self.max_clock * np.sqrt(np.clip(limit / self.tdp_w, 0.25, 1.0)), IDLE_SM_CLOCK_MHZ)
        bits = (
            fx.clock_bits
            | np.where(busy, 0, CLOCK_GPU_IDLE)
            | np.where(busy & (limit < self.tdp_w), CLOCK_SW_POWER_CAP, 0)
        )
        clock = np.round(np.where(bits & (CLOCK_HW_THERMAL | CLOCK_HW_POWER_BRAKE), clock * 0.6, clock))
        clock = np.asarray(clock, dtype=np.float64)
        counters = self._accumulate(power, fx)
        xid = np.array(fx.xids, dtype=np.int64).reshape(-1, 3)
        xid_step, xid_gpu, xid_code = xid[:, 0], xid[:, 1], xid[:, 2]
        xid_last = np.repeat(self.xid_last[None, :], shape[0], axis=0)
        if xid_code.shape[0]:
            order = np.lexsort((xid_code, xid_step))
            for j, gi, c in zip(xid_step[order], xid_gpu[order], xid_code[order], strict=True):
                xid_last[j:, gi] = c
        for j, gpus in fx.resets:
            xid_last[j:, gpus] = 0
        self.xid_last = xid_last[-1].copy()
        remap = np.logical_or.accumulate(fx.remap_failure | self.remap_failed[None, :], axis=0)
        for j, gpus in fx.resets:
            remap[j:, gpus] = False
        self.remap_failed = remap[-1].copy()
        return GpuFrame(
            t0_s=t0,
            step_s=self.step_s,
            present=~fx.vanish,
            state=state,
            power_w=power,
            power_limit_w=limit,
            gpu_temp_c=gpu_temp,
            mem_temp_c=mem_temp,
            util_pct=util,
            sm_clock_mhz=clock,
            clock_events=bits,
            xid_last=xid_last,
            counters=counters,
            row_remap_failure=remap.astype(np.int64),
            xid_step=xid_step,
            xid_gpu=xid_gpu,
            xid_code=xid_code,
            flow_fraction=flow,
        )

    def _accumulate(self, power: NDArray[np.float64], fx: _Effects) -> dict[str, NDArray[np.float64]]:
        """Cumulative counters from the state and this block's increments, zeroed where a GPU came back."""
        fx.inc["energy_mj"] = np.round(power * self.step_s * 1e3)
        out = {}
        for key in COUNTER_KEYS:
            inc = fx.inc[key]
            cum = self.state[key][None, :] + np.cumsum(inc, axis=0)
            for j, gpus in fx.resets:
                cum[j:, gpus] -= cum[j, gpus] - inc[j, gpus]
            out[key] = cum
            self.state[key] = cum[-1].copy()
        return out
