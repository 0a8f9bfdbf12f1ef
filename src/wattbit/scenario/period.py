"""The scenario's period: the simulated span ``[start, end)``, its step and its time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

#: Most steps a scenario period may have: a year at 15 s, ten years at 5 min. Arrays are (steps, sites).
MAX_STEPS = 2_200_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Model):
    """The simulated span, ``[start, end)``, and its time step."""

    start: datetime
    end: datetime
    step: str = "15min"
    timezone: str = "Asia/Tokyo"

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2022-01-01T00:00:00+09:00")
        return value

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        try:
            td = pd.Timedelta(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a duration such as '15min' or '1h'") from exc
        if td <= pd.Timedelta(0) or pd.Timedelta("1D") % td != pd.Timedelta(0):
            raise ValueError(f"{value!r} must be positive and divide a day evenly (e.g. 5min, 15min, 30min, 1h)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as 'Asia/Tokyo')") from exc
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start} (expected at least one step)")
        if (self.end - self.start) % self.step_timedelta != timedelta(0):
            raise ValueError(f"the period {self.start}..{self.end} is not a whole number of steps of {self.step}")
        steps = (self.end - self.start) // self.step_timedelta
        if steps > MAX_STEPS:
            raise ValueError(
                f"the period has {steps:,} steps of {self.step} (expected at most {MAX_STEPS:,}: a coarser step "
                "or a shorter period)"
            )
        return self

    @property
    def step_timedelta(self) -> timedelta:
        """The step as a :class:`datetime.timedelta`."""
        return pd.Timedelta(self.step).to_pytimedelta()

    def index_utc(self) -> pd.DatetimeIndex:
        """Period-beginning UTC timestamps of every step."""
        return pd.date_range(
            pd.Timestamp(self.start).tz_convert("UTC"),
            pd.Timestamp(self.end).tz_convert("UTC"),
            freq=pd.Timedelta(self.step),
            inclusive="left",
            name="time_utc",
        )


__all__ = ["MAX_STEPS", "Period"]
