"""Airflow connection -> :class:`~airflow_provider_anaplan.client.config.ClientConfig`.

The connection type ``anaplan`` uses ``login``/``password`` for basic authentication and these
extras (exact keys): ``auth_type``, ``workspace_id``, ``model_id``, ``certificate``, ``private_key``,
``private_key_passphrase``, ``certificate_format``, ``client_id``, ``client_secret``, ``refresh_token``,
``rotatable_token``, ``api_url``, ``auth_url``, ``oauth_url``, ``verify_ssl``, ``timeout``,
``chunk_size_mb``, ``compression``, ``max_concurrency``.

Validation errors name the field and never echo a secret value. Secrets are handed to Airflow's
secret masker as soon as they are read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.exceptions import AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import RetryPolicy

log = logging.getLogger(__name__)

#: Every extra the ``anaplan`` connection understands.
EXTRA_KEYS: tuple[str, ...] = (
    "auth_type",
    "workspace_id",
    "model_id",
    "certificate",
    "private_key",
    "private_key_passphrase",
    "certificate_format",
    "client_id",
    "client_secret",
    "refresh_token",
    "rotatable_token",
    "api_url",
    "auth_url",
    "oauth_url",
    "verify_ssl",
    "timeout",
    "chunk_size_mb",
    "compression",
    "max_concurrency",
)
#: Extras whose values are secrets (masked, never echoed).
SECRET_EXTRAS: frozenset[str] = frozenset(
    {"private_key", "private_key_passphrase", "client_secret", "refresh_token"}
)
AUTH_TYPES: tuple[str, ...] = ("basic", "certificate", "oauth")

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


def mask(value: Any, name: str | None = None) -> None:
    """Register ``value`` with Airflow's secret masker (no-op for empty values)."""
    if not value or not isinstance(value, str):
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - very old task SDK
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]
    try:
        mask_secret(value, name)
    except Exception:  # pragma: no cover - masking must never break a task
        log.debug("Could not register a secret with the masker", exc_info=True)


def _field(name: str, value: Any) -> str:
    """How a field is shown in an error: secrets by name only."""
    return f"extra {name!r}" if name in SECRET_EXTRAS else f"extra {name!r}={value!r}"


def parse_bool(name: str, value: Any) -> bool:
    """A bool extra: JSON true/false or the strings "true"/"false" (also yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise AnaplanConfigError(f"{_field(name, value)} must be true or false")


def parse_number(name: str, value: Any, *, integer: bool = False) -> float | int:
    """A numeric extra: JSON number or numeric string."""
    if isinstance(value, bool):
        raise AnaplanConfigError(f"{_field(name, value)} must be a number")
    try:
        number = float(value) if not isinstance(value, (int, float)) else value
    except (TypeError, ValueError):
        raise AnaplanConfigError(f"{_field(name, value)} must be a number") from None
    if integer:
        if float(number) != int(number):
            raise AnaplanConfigError(f"{_field(name, value)} must be a whole number")
        return int(number)
    return float(number)


def parse_verify(value: Any) -> bool | str:
    """``verify_ssl``: a bool (also "true"/"false") or a CA bundle path."""
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE):
        return parse_bool("verify_ssl", value)
    if isinstance(value, str):
        return value.strip()
    raise AnaplanConfigError(f"{_field('verify_ssl', value)} must be true, false or a CA bundle path")


def _text(extras: Mapping[str, Any], name: str) -> str | None:
    value = extras.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise AnaplanConfigError(f"{_field(name, value)} must be a string")
    return value.strip() if name not in ("certificate", "private_key") else value


def _required(value: str | None, name: str, auth_type: str) -> str:
    if not value:
        raise AnaplanConfigError(f"auth_type {auth_type!r} needs {name} in the Anaplan connection")
    return value


def load_extras(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the extras, masking secrets at once; unknown keys are warned about, not fatal."""
    extras = dict(extra or {})
    for key in list(extras):
        if key.startswith("extra__anaplan__"):  # Airflow 2 style prefixed form fields
            extras.setdefault(key[len("extra__anaplan__") :], extras.pop(key))
    for key in SECRET_EXTRAS:
        mask(extras.get(key), key)
    unknown = sorted(k for k in extras if k not in EXTRA_KEYS)
    if unknown:
        log.warning("Ignoring unknown Anaplan connection extras: %s", ", ".join(unknown))
    return extras


def build_credentials(
    login: str | None,
    password: str | None,
    extras: Mapping[str, Any],
    *,
    on_rotate: Callable[[str], None] | None = None,
    token_store: Callable[..., Any] | None = None,
):
    """Credentials object for the connection's ``auth_type``.

    ``token_store(client_id=, origin_refresh_token=, client_secret=)`` builds the shared store of a
    rotatable OAuth connection (the hook passes the Airflow Variable store).
    """
    from airflow_provider_anaplan.client.credentials import (
        BasicCredentials,
        CertificateCredentials,
        OAuthCredentials,
    )

    mask(password, "password")
    auth_type = (_text(extras, "auth_type") or "basic").lower()
    if auth_type not in AUTH_TYPES:
        raise AnaplanConfigError(f"extra 'auth_type'={auth_type!r} must be one of {', '.join(AUTH_TYPES)}")
    if auth_type == "basic":
        return BasicCredentials(
            _required(login, "a login (Anaplan user name)", auth_type),
            _required(password, "a password", auth_type),
        )
    if auth_type == "certificate":
        fmt = (_text(extras, "certificate_format") or "v2").lower()
        if fmt not in ("v1", "v2"):
            raise AnaplanConfigError(f"extra 'certificate_format'={fmt!r} must be v1 or v2")
        return CertificateCredentials(
            certificate=_required(_text(extras, "certificate"), "extra 'certificate'", auth_type),
            private_key=_required(_text(extras, "private_key"), "extra 'private_key'", auth_type),
            passphrase=extras.get("private_key_passphrase") or None,
            format=fmt,  # type: ignore[arg-type]
        )
    rotatable = parse_bool("rotatable_token", extras.get("rotatable_token", False))
    client_id = _required(_text(extras, "client_id"), "extra 'client_id'", auth_type)
    refresh_token = _required(_text(extras, "refresh_token"), "extra 'refresh_token'", auth_type)
    client_secret = _text(extras, "client_secret")
    store = None
    if rotatable and token_store is not None:
        store = token_store(client_id=client_id, origin_refresh_token=refresh_token, client_secret=client_secret)
    return OAuthCredentials(
        client_id=client_id,
        refresh_token=refresh_token,
        client_secret=client_secret,
        rotatable=rotatable,
        on_rotate=on_rotate,
        store=store,
    )


def build_client_config(
    *,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any] | None,
    workspace_id: str | None = None,
    model_id: str | None = None,
    retry: RetryPolicy | None = None,
    on_rotate: Callable[[str], None] | None = None,
    token_store: Callable[..., Any] | None = None,
    **overrides: Any,
) -> ClientConfig:
    """Build a validated :class:`ClientConfig` from connection fields.

    ``workspace_id``/``model_id`` override the connection's extras when given.
    """
    from airflow_provider_anaplan.client.config import ClientConfig

    extras = load_extras(extra)
    kwargs: dict[str, Any] = {
        "credentials": build_credentials(login, password, extras, on_rotate=on_rotate, token_store=token_store),
        "workspace_id": workspace_id or _text(extras, "workspace_id"),
        "model_id": model_id or _text(extras, "model_id"),
    }
    for name in ("api_url", "auth_url", "oauth_url"):
        if (value := _text(extras, name)) is not None:
            kwargs[name] = value
    if extras.get("verify_ssl") not in (None, ""):
        kwargs["verify"] = parse_verify(extras["verify_ssl"])
    if extras.get("timeout") not in (None, ""):
        kwargs["timeout"] = parse_number("timeout", extras["timeout"])
    for name in ("chunk_size_mb", "max_concurrency"):
        if extras.get(name) not in (None, ""):
            kwargs[name] = parse_number(name, extras[name], integer=True)
    if extras.get("compression") not in (None, ""):
        kwargs["compression"] = parse_bool("compression", extras["compression"])
    if retry is not None:
        kwargs["retry"] = retry
    kwargs.update(overrides)
    return ClientConfig(**kwargs)
