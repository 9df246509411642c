"""Storage backends behind one small interface (``mobilise.storage.base``).

Engines pick a backend by name and never import one directly::

    source = open_backend("smb", settings)                  # from MOBILISE_SMB_* settings
    archive = open_backend("local", settings, root="/srv/archive")
    scratch = open_backend("local", {"root": "/tmp/x", "durable": False})

Backend modules are imported only when asked for, so a machine without smbprotocol can
still use ``local``. Each backend class takes its settings as keyword arguments and
offers ``from_settings(settings, **overrides)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mobilise.core.errors import InvalidInput
from mobilise.storage.base import Backend

if TYPE_CHECKING:
    from mobilise.core.settings import Settings

BACKENDS: dict[str, str] = {
    "local": "mobilise.storage.local:LocalBackend",
    "smb": "mobilise.storage.smb:SmbBackend",
    "onedrive": "mobilise.storage.onedrive:OneDriveBackend",
}


def backend_class(kind: str) -> Any:
    """The class registered under ``kind``, imported on first use."""
    try:
        module_name, class_name = BACKENDS[kind].split(":")
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise InvalidInput(f"unknown storage backend {kind!r}; known: {known}") from None
    return getattr(importlib.import_module(module_name), class_name)


def open_backend(
    kind: str,
    config: Settings | Mapping[str, Any] | None = None,
    /,
    **overrides: Any,
) -> Backend:
    """A backend of ``kind`` built from ``Settings`` (through the class's
    ``from_settings``) or from plain keyword arguments; ``overrides`` win either way."""
    # Imported here: `mobilise hash` loads this package and needs no settings (Pydantic).
    from mobilise.core.settings import Settings

    cls = backend_class(kind)
    backend: Backend
    if isinstance(config, Settings):
        backend = cls.from_settings(config, **overrides)
    else:
        backend = cls(**{**(config or {}), **overrides})
    return backend
