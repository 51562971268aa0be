"""The seed's password is long enough for Airflow's secret masker (it skips secrets under 5 characters)."""

from __future__ import annotations

import pytest

from airflow_provider_anaplan.testing.emulator import DEMO_PASSWORD


def test_airflow_masks_the_seed_password() -> None:
    masker_module = pytest.importorskip("airflow.sdk._shared.secrets_masker.secrets_masker")
    masker = masker_module.SecretsMasker()
    assert len(DEMO_PASSWORD) >= masker.min_length_to_mask
    masker.add_mask(DEMO_PASSWORD)  # as Airflow does for a connection password
    assert masker.redact(f"login demo@example.com with {DEMO_PASSWORD}") == "login demo@example.com with ***"
