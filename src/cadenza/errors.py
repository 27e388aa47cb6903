"""Errors a user can act on: each prints as one clear line, never a traceback."""


class CadenzaError(Exception):
    """Base class for every error cadenza reports to a user."""


class ReadError(CadenzaError):
    """A music file could not be read (missing, corrupt, unsupported)."""


class SkipPiece(CadenzaError):
    """A readable piece that preprocessing rejects (wrong meter, not SATB, empty...)."""


class ConfigError(CadenzaError):
    """A bad option or config value."""
