"""Every error Spyglass raises on purpose derives from SpyglassError.

The CLI turns these into one readable line and a non-zero exit; anything else
is a bug and keeps its traceback.
"""


class SpyglassError(Exception):
    """Base class for errors meant to be shown to the user as one line."""


class ConfigError(SpyglassError):
    """A sources file or an option is invalid; the message names file, source and field."""


class ArchiveError(SpyglassError):
    """The data directory is missing, unreadable or not a Spyglass archive."""


class VerificationError(SpyglassError):
    """The archive failed `spyglass verify`: a digest, record or row does not match."""
