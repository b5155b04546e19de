"""The errors of ``crm``: one class per kind of failure, all under
:class:`CrmError`, each carrying the details as attributes.

Each class also derives from the built-in exception a Python programmer
would expect (``NotFoundError`` is a ``KeyError``, ``ValidationError`` a
``ValueError``, ``InputError`` an ``OSError``), so ``except KeyError``
keeps working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CrmError",
    "NotFoundError",
    "ValidationError",
    "ConflictError",
    "IncompatibleVersionError",
    "CorruptDatabaseError",
    "InputError",
    "StorageError",
    "InternalError",
    "PluginError",
]


class CrmError(Exception):
    """Every error raised by ``crm``. ``str(error)`` says what and where."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in details.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.message


class NotFoundError(CrmError, KeyError):
    """A record that was asked for does not exist. ``entity`` (``"party"``,
    ``"order"``, …) and ``id`` say which."""

    entity: str
    id: str


class ValidationError(CrmError, ValueError):
    """Input that breaks a rule of the model; nothing was changed.
    ``field`` names the argument or column, ``row`` the 1-based row of an
    import (or ``None``), ``reason`` what is wrong."""

    field: str | None
    row: int | None
    reason: str


class ConflictError(CrmError):
    """The change conflicts with what is stored (a duplicate key, a
    hierarchy cycle, rules firing each other in a loop); nothing was
    changed."""

    reason: str


class IncompatibleVersionError(CrmError):
    """The database was written by a newer version of ``crm``."""

    found: int
    supported: int


class CorruptDatabaseError(CrmError):
    """The file is not a ``crm`` database, or is damaged."""

    path: str
    detail: str


class InputError(CrmError, OSError):
    """An input file could not be read."""

    path: str


class StorageError(CrmError):
    """The storage engine failed. ``busy`` is true when another writer held
    the database for longer than the busy timeout."""

    busy: bool


class InternalError(CrmError):
    """A state that should not be reachable; please report it."""


class PluginError(CrmError):
    """A plugin could not be installed or a call failed. ``plugin`` names
    it, ``kind`` says how (``"timeout"``, ``"trap"``, ``"not_granted"``,
    ``"invalid_action"``, ``"hash_mismatch"``, …); the database is as it
    was."""

    plugin: str | None
    kind: str
