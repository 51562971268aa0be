"""The Anaplan emulator: a Starlette app serving the auth API, OAuth, bulk API v2 and an admin API.

It imports nothing from the provider's client or from Airflow. Start it with
``anaplan-emulator --port 8765`` (it prints a banner with the seed and the URLs; ``--help`` lists the
options) or in tests through the ``anaplan_emulator`` pytest fixture.
"""

from __future__ import annotations

from .app import Emulator, create_app
from .seed import (
    DEFAULT_FIXTURE,
    DEMO_PASSWORD,
    DEMO_USER,
    DEMO_USER_ID,
    DEVICE_CLIENT_ID,
    MODEL_ID,
    PRODUCTION_MODEL_ID,
    ROTATING_CLIENT_ID,
    WORKSPACE_ID,
    FixtureError,
    default_fixture,
    read_fixture_file,
)
from .server import BindError, EmulatorServer, serve

__all__ = [
    "DEFAULT_FIXTURE",
    "DEMO_PASSWORD",
    "DEMO_USER",
    "DEMO_USER_ID",
    "DEVICE_CLIENT_ID",
    "MODEL_ID",
    "PRODUCTION_MODEL_ID",
    "ROTATING_CLIENT_ID",
    "WORKSPACE_ID",
    "BindError",
    "Emulator",
    "EmulatorServer",
    "FixtureError",
    "create_app",
    "default_fixture",
    "read_fixture_file",
    "serve",
]
