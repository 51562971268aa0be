"""Validation of intervals and timeouts, shared by every layer (client, hooks, operators, trigger, sensor).

Airflow-free and light: the operators check their arguments at DAG-parse time without loading the
client core.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from airflow_provider_anaplan.exceptions import AnaplanConfigError

__all__ = ["MIN_POLL_INTERVAL", "MIN_TIMEOUT", "validate_seconds"]

#: smallest poll interval accepted anywhere (client, trigger, sensor, operators), seconds
MIN_POLL_INTERVAL = 0.1
#: smallest HTTP request timeout accepted, seconds
MIN_TIMEOUT = 0.1


def validate_seconds(
    value: object,
    name: str,
    *,
    minimum: float = 0.0,
    inclusive: bool = False,
    maximum: float | None = None,
    allow_none: bool = False,
) -> float | None:
    """THE check of every interval/timeout the provider accepts; returns the value as a float.

    Accepts ``int``/``float`` (not ``bool``) and ``datetime.timedelta``; rejects NaN, infinities,
    strings and anything else with an :class:`AnaplanConfigError` naming ``name``.

    :param minimum: lower bound; ``inclusive`` makes it ``>= minimum`` instead of ``> minimum``.
    :param maximum: optional upper bound (inclusive).
    :param allow_none: None passes through (e.g. "no timeout").
    """
    if value is None and allow_none:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnaplanConfigError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise AnaplanConfigError(f"{name} must be a finite number of seconds, got {value!r}")
    too_low = value < minimum if inclusive else value <= minimum
    if too_low or (maximum is not None and value > maximum):
        bound = f"{'>=' if inclusive else '>'} {minimum:g}"
        if maximum is not None:
            bound += f" and <= {maximum:g}"
        raise AnaplanConfigError(f"{name} must be {bound} seconds, got {value!r}")
    return float(value)


def validate_sensor_timing(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Check a sensor's ``poke_interval`` (>= :data:`MIN_POLL_INTERVAL`) and ``timeout`` in its
    ``BaseSensorOperator`` keyword arguments, in place; errors name the task. Every Anaplan sensor calls it."""
    task = kwargs.get("task_id", "sensor")
    if "poke_interval" in kwargs:
        kwargs["poke_interval"] = validate_seconds(
            kwargs["poke_interval"], f"{task}: poke_interval", minimum=MIN_POLL_INTERVAL, inclusive=True
        )
    if kwargs.get("timeout") is not None:
        kwargs["timeout"] = validate_seconds(kwargs["timeout"], f"{task}: timeout")
    return kwargs
