"""Exception tree. Every error carries a hint telling the user what to do next.

The CLI prints ``str(error)`` and the hint on one line and exits with ``exit_code``;
the library never prints.
"""

from __future__ import annotations


class VigilError(Exception):
    """Base class: a failure the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}; {self.hint}"


class UsageError(VigilError):
    """The command line or its arguments are wrong."""

    exit_code = 2


class InputError(VigilError):
    """An input file cannot be read by the adapter it was given to."""


class RejectThresholdError(InputError):
    """Too many rows of one batch were malformed: the batch is not loaded."""


class FetchError(VigilError):
    """A live download failed (network, HTTP status, checksum)."""


class ChecksumError(FetchError):
    """A downloaded file does not match the checksum its source published."""


class StoreError(VigilError):
    """The evidence store cannot be opened or migrated."""


class StoreBusyError(StoreError):
    """Another process holds the store in a mode that excludes the one asked for."""


class StoreOutdatedError(StoreError):
    """A store opened read-only lacks migrations (it was made by an older vigil)."""


class ReconciliationError(VigilError):
    """A batch's counts do not add up; nothing was committed."""
