"""The ``[ops]`` section of a scenario: settings of the live twin's telemetry and of its fault signatures.

Every number here is an assumption (no lead times or strengths of GPU failure precursors are published); the
defaults and their reasons live in ``wattbit.ops.telemetry.signatures`` and ``docs/operations.md``. A scenario only
overrides them, for example::

    [ops]
    fault_rate_scale = 20.0                    # more faults, to see them in a short demo
    [ops.signatures.hbm_ecc]
    lead_h = [4.0, 12.0]                       # precursor lead time drawn uniformly from this range [h]
    strength = [0.5, 1.0]                      # multiplier of the precursor's intensity, drawn uniformly
    [ops.cause_signatures]
    faulty_gpu = { fell_off_bus = 0.6, nvlink = 0.4 }

Names of signatures and causes are checked where they are applied (``wattbit.ops.telemetry.signatures``), with an
error naming the field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignatureOverride(_Model):
    """Ranges from which each fault's precursor is drawn (uniformly); ``None`` keeps the default."""

    lead_h: tuple[float, float] | None = None
    strength: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SignatureOverride:
        for name in ("lead_h", "strength"):
            pair = getattr(self, name)
            if pair is not None and not (0 <= pair[0] <= pair[1] and pair[1] < 1e4):
                raise ValueError(f"{name} must be [low, high] with 0 <= low <= high, got {list(pair)}")
        return self


class OpsSpec(_Model):
    """Settings of the twin's telemetry (``wattbit twin serve``) and of the evaluation (``wattbit ops evaluate``)."""

    hostname_label: Literal["Hostname", "hostname"] = Field(
        default="Hostname", description="label dcgm-exporter puts the node name in (releases before 2026-05: Hostname)"
    )
    driver_version: str = Field(default="550.90.07", pattern=r"^[0-9][0-9.]*$")
    fault_rate_scale: float = Field(default=1.0, gt=0, le=1e4, description="multiplies every failure rate")
    nuisance_scale: float = Field(default=1.0, ge=0, le=100, description="multiplies the healthy GPUs' error noise")
    signatures: dict[str, SignatureOverride] = Field(default_factory=dict)
    cause_signatures: dict[str, dict[str, float]] = Field(default_factory=dict)
