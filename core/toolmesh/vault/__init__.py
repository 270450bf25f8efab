"""Vault (or OpenBao) access shared by the gateway and the category servers (docs/design/security.md)."""

from toolmesh.vault.client import (
    CachedReader,
    Vault,
    VaultConflict,
    VaultDenied,
    VaultError,
    VaultUnavailable,
    Versioned,
)
from toolmesh.vault.settings import VaultSettings

__all__ = [
    "CachedReader",
    "Vault",
    "VaultConflict",
    "VaultDenied",
    "VaultError",
    "VaultSettings",
    "VaultUnavailable",
    "Versioned",
]
