"""Airflow connection -> :class:`~airflow_provider_anaplan.client.config.ClientConfig`.

The connection type ``anaplan`` uses ``login``/``password`` for basic authentication and the extras
of :data:`EXTRA_KEYS` (exact keys; the UI form's order). Secrets (:data:`SECRET_EXTRAS`) are the only
extras whose names Airflow's secret masker matches (it hides any extra whose name *contains* token,
secret, password, passphrase, private_key, ... and shows ``"***"`` instead); every other extra has a
name it does not match, so the UI form and the REST API show its real value.

* ``region`` sets ``api_url``, ``auth_url`` and ``oauth_url`` at once (:data:`REGIONS`); an explicit
  URL extra still overrides its part.
  ``cloudworks_url`` (CloudWorks API) defaults to the form derived from the effective ``api_url``
  (:func:`~airflow_provider_anaplan.client.config.cloudworks_url_for`), so ``region`` sets it too.
* ``verify_ssl`` is a boolean; ``ca_bundle`` a CA bundle path. The older ``verify_ssl: "<path>"`` is
  still accepted (deprecated).
* ``refresh_rotates`` replaces ``rotatable_token`` (a name Airflow masks: the UI form showed and saved
  ``"***"``); the old key is still read, with a deprecation warning.
* ``"***"`` is never accepted as a value: it is what the UI or the REST API shows in place of a
  masked value, so an :class:`AnaplanConfigError` names the field.

Validation errors name the field and never echo a secret value. Secrets are handed to Airflow's
secret masker as soon as they are read.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_anaplan.exceptions import AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.credentials import Credentials
    from airflow_provider_anaplan.client.http import RetryPolicy

log = logging.getLogger(__name__)

#: Every extra the ``anaplan`` connection understands, in the order of the UI form.
EXTRA_KEYS: tuple[str, ...] = (
    "auth_type",
    "region",
    "workspace_id",
    "model_id",
    "certificate",
    "private_key",
    "private_key_passphrase",
    "certificate_format",
    "client_id",
    "client_secret",
    "refresh_token",
    "refresh_rotates",
    "api_url",
    "auth_url",
    "oauth_url",
    "cloudworks_url",
    "verify_ssl",
    "ca_bundle",
    "timeout",
    "chunk_size_mb",
    "compression",
    "max_concurrency",
)
#: Extras whose values are secrets (masked, never echoed).
SECRET_EXTRAS: frozenset[str] = frozenset(
    {"private_key", "private_key_passphrase", "client_secret", "refresh_token"}
)
#: Old extra names still read: ``{old: new}`` (a deprecation warning names the new one).
DEPRECATED_EXTRAS: dict[str, str] = {"rotatable_token": "refresh_rotates"}
AUTH_TYPES: tuple[str, ...] = ("basic", "certificate", "oauth")
#: What Airflow's UI and REST API show in place of a masked value; never a setting.
MASKED_VALUE = "***"

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


class Region(NamedTuple):
    """An Anaplan region: what Anaplan calls it and the base URLs of its three APIs."""

    label: str
    api_url: str
    auth_url: str
    oauth_url: str


def _region(label: str, prefix: str | None = None) -> Region:
    if prefix is None:  # the legacy regions share the unqualified hosts
        return Region(label, "https://api.anaplan.com/2/0", "https://auth.anaplan.com", "https://us1a.app.anaplan.com")
    return Region(
        label, f"https://{prefix}.api.anaplan.com/2/0", f"https://{prefix}.auth.anaplan.com", f"https://{prefix}.app.anaplan.com"
    )


#: Anaplan regions (``region`` extra) -> base URLs, from Anaplan's published server lists (the
#: Integration, Authentication and OAuth APIs' ``servers``; "URL, IP, and allowlist requirements").
REGIONS: dict[str, Region] = {
    "us1": _region("Data Center - US East"),
    "us2": _region("Data Center - US West"),
    "us5": _region("Cloud - US East"),
    "us7": _region("Cloud - US"),
    "us9": _region("Cloud - US", "us9"),
    "eu1": _region("Data Center - Netherlands"),
    "eu2": _region("Data Center - Germany"),
    "eu3": _region("Cloud - Europe", "eu3"),
    "eu4": _region("Cloud - Europe"),
    "eu5": _region("Cloud - Europe", "eu5"),
    "gb1": _region("Cloud - UK", "gb1"),
    "ap1": _region("Cloud - Japan"),
    "au1": Region(
        "Cloud - Australia", "https://au1a.api2.anaplan.com/2/0", "https://au1a.app2.anaplan.com",
        "https://au1a.app2.anaplan.com",
    ),
    "ca1": _region("Cloud - Canada", "ca1a"),
    "sg1": _region("Cloud - Singapore", "sg1"),
    "ae1": _region("Cloud - UAE", "ae1"),
    "in1": _region("Cloud - India", "in1"),
    "id1": _region("Cloud - Indonesia", "id1"),
    "me1": _region("Cloud - Saudi Arabia", "me1"),
}
URL_EXTRAS: tuple[str, ...] = ("api_url", "auth_url", "oauth_url")


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


def is_masked(value: Any) -> bool:
    """Whether ``value`` is the ``"***"`` Airflow shows in place of a masked value."""
    return isinstance(value, str) and value.strip() == MASKED_VALUE


def reject_masked(what: str, value: Any) -> None:
    """Raise if ``value`` is ``"***"``: a masked placeholder is never a setting."""
    if is_masked(value):
        raise AnaplanConfigError(
            f"{what} is '***': that is the placeholder Airflow's UI and REST API show in place of a masked "
            "value, not a setting (it was saved back as text). Enter the real value in the connection, "
            "or clear the field."
        )


def _deprecated(old: str, new: str, detail: str = "") -> None:
    message = (
        f"Anaplan connection extra {old!r} is deprecated; use {new!r}{detail}. "
        "It is still read, but edit the connection to use the new field."
    )
    log.warning(message)
    warnings.warn(message, DeprecationWarning, stacklevel=4)


def parse_bool(name: str, value: Any) -> bool:
    """A bool extra: JSON true/false or the strings "true"/"false" (also yes/no, 1/0)."""
    reject_masked(f"extra {name!r}", value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise AnaplanConfigError(f"{_field(name, value)} must be true or false")


def parse_number(name: str, value: Any, *, integer: bool = False) -> float | int:
    """A numeric extra: JSON number or numeric string."""
    reject_masked(f"extra {name!r}", value)
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


def parse_verify(value: Any, ca_bundle: Any = None) -> bool | str:
    """TLS verification from ``verify_ssl`` (a bool; a CA bundle path is the deprecated form) and
    ``ca_bundle`` (a path): ``False``, ``True`` or the path of the CA bundle to trust."""
    reject_masked("extra 'verify_ssl'", value)
    reject_masked("extra 'ca_bundle'", ca_bundle)
    if isinstance(value, str) and not value.strip():
        value = None  # an empty field is "not set" (verification on), never "false"
    bundle: str | None = None
    if ca_bundle is not None and not (isinstance(ca_bundle, str) and not ca_bundle.strip()):
        if not isinstance(ca_bundle, str):
            raise AnaplanConfigError(f"{_field('ca_bundle', ca_bundle)} must be a file path")
        bundle = ca_bundle.strip()
        if not os.path.exists(os.path.expanduser(bundle)):
            raise AnaplanConfigError(
                f"extra 'ca_bundle': CA bundle path {bundle!r} does not exist (on the machine running the task)"
            )
    if value is None or isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE):
        enabled = True if value is None else parse_bool("verify_ssl", value)
    elif isinstance(value, str):  # the older form: a CA bundle path in verify_ssl
        legacy = value.strip()
        _deprecated("verify_ssl", "ca_bundle", " for a CA bundle path (verify_ssl is now a true/false switch)")
        if bundle is not None and bundle != legacy:
            raise AnaplanConfigError(
                f"extra 'verify_ssl'={legacy!r} (a path) and extra 'ca_bundle'={bundle!r} disagree; keep the "
                "path in ca_bundle and set verify_ssl to true"
            )
        return bundle or legacy
    else:
        raise AnaplanConfigError(f"{_field('verify_ssl', value)} must be true or false (CA bundle path: extra 'ca_bundle')")
    if not enabled:
        if bundle is not None:
            log.warning("Anaplan connection: verify_ssl is false, so ca_bundle %r is not used", bundle)
        return False
    return bundle or True


def resolve_urls(extras: Mapping[str, Any]) -> dict[str, str]:
    """``api_url``/``auth_url``/``oauth_url`` from ``region`` and the explicit URL extras (which win)."""
    urls: dict[str, str] = {}
    code = _text(extras, "region")
    if code is not None:
        region = REGIONS.get(code.lower())
        if region is None:
            raise AnaplanConfigError(
                f"extra 'region'={code!r} is not an Anaplan region; use one of {', '.join(REGIONS)} "
                "(or set api_url, auth_url and oauth_url)"
            )
        urls = {name: getattr(region, name) for name in URL_EXTRAS}
    known = {getattr(r, name).rstrip("/") for r in REGIONS.values() for name in URL_EXTRAS}
    for name in URL_EXTRAS:
        value = _text(extras, name)
        if value is None:
            continue
        if code is not None and value.rstrip("/") != urls[name] and value.rstrip("/") in known:
            log.warning(
                "Anaplan connection: extra %r=%s overrides region %r (%s); clear it to use the region's URL",
                name, value, code, urls[name],
            )
        urls[name] = value
    return urls


def _text(extras: Mapping[str, Any], name: str) -> str | None:
    value = extras.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise AnaplanConfigError(f"{_field(name, value)} must be a string")
    reject_masked(f"extra {name!r}", value)
    return value if name in ("certificate", "private_key", "private_key_passphrase") else value.strip()


def _required(value: str | None, name: str, auth_type: str) -> str:
    if not value:
        raise AnaplanConfigError(f"auth_type {auth_type!r} needs {name} in the Anaplan connection")
    return value


def load_extras(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the extras, masking secrets at once; unknown keys are warned about, not fatal.

    Deprecated names are mapped to their replacements (``rotatable_token`` -> ``refresh_rotates``,
    validated under the old name), and a ``"***"`` in any known extra is an :class:`AnaplanConfigError`.
    Idempotent: the result can be passed in again.
    """
    extras = dict(extra or {})
    for key in list(extras):
        if key.startswith("extra__anaplan__"):  # Airflow 2 style prefixed form fields
            extras.setdefault(key[len("extra__anaplan__") :], extras.pop(key))
    for key in SECRET_EXTRAS:
        mask(extras.get(key), key)
    for old, new in DEPRECATED_EXTRAS.items():
        if old not in extras:
            continue
        value = extras.pop(old)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if extras.get(new) is not None and not (isinstance(extras[new], str) and not extras[new].strip()):
            log.warning("Anaplan connection: both %r and the deprecated %r are set; %r is ignored", new, old, old)
            continue
        if is_masked(value):
            raise AnaplanConfigError(
                f"extra {old!r} is '***': Airflow masks any extra whose name contains 'token', so the UI "
                f"showed and saved '***' in place of its value. Set {new!r} (the form's 'OAuth: refresh "
                "token rotates' switch) to true or false instead, and remove the old key."
            )
        extras[new] = parse_bool(old, value)
        _deprecated(old, new)
    for key in EXTRA_KEYS:
        reject_masked(f"extra {key!r}", extras.get(key))
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
) -> Credentials:
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
    reject_masked("the connection's login", login)
    reject_masked("the connection's password", password)
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
            passphrase=_text(extras, "private_key_passphrase"),
            format=fmt,  # type: ignore[arg-type]
        )
    rotates = extras.get("refresh_rotates")
    rotatable = False if rotates is None else parse_bool("refresh_rotates", rotates)
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
    kwargs.update(resolve_urls(extras))
    if (cloudworks_url := _text(extras, "cloudworks_url")) is not None:
        kwargs["cloudworks_url"] = cloudworks_url  # else derived from api_url (and so from region)
    if any(extras.get(name) not in (None, "") for name in ("verify_ssl", "ca_bundle")):
        kwargs["verify"] = parse_verify(extras.get("verify_ssl"), extras.get("ca_bundle"))
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
