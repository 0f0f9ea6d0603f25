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
