"""Errors the user can fix. The CLI prints their message on one line and exits with status 2."""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in the user's input (file, parameters, settings); the message says what to do."""


class DataError(UserError):
    """A data file or array that cannot be used as it is."""


class Cancelled(Exception):
    """A fit stopped inside a pass over its data (between two chunks), by its CancelToken: there is no iteration to
    report. The window and the command line end the fit quietly."""


class ParamsError(UserError):
    """Mixture parameters (weights, means, covariances) that are invalid."""


def counted(n: int, noun: str, plural: str = "") -> str:
    """'1 column', '2 columns', '1,000 rows': a count with its noun in the number it needs (plural: the noun's
    plural where adding 's' is wrong)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
