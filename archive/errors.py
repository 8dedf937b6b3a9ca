"""Every error Spyglass raises on purpose derives from SpyglassError.

The CLI turns these into one readable line and a non-zero exit; anything else
is a bug and keeps its traceback.
"""


class SpyglassError(Exception):
    """Base class for errors meant to be shown to the user as one line."""


class ConfigError(SpyglassError):
    """A sources file or an option is invalid; the message names file, source and field."""


class InstallError(SpyglassError):
    """The installed Spyglass does not match its code (an entry point is missing): reinstall it."""


class ArchiveError(SpyglassError):
    """The data directory is missing, unreadable or not a Spyglass archive."""


class WaybackError(SpyglassError):
    """The Wayback Machine answered something we cannot use; the message says what and where."""


class BlockedError(WaybackError):
    """The Wayback Machine refuses this URL (403 with X-Archive-Wayback-Runtime-Error)."""


class ExcludedError(WaybackError):
    """The URL was excluded from the Wayback Machine (a 200 page saying so, not a memento)."""


class NotArchivedError(WaybackError):
    """The Wayback Machine holds no capture of this URL (404)."""


class MementoMismatchError(WaybackError):
    """The answer is not the memento asked for: redirected to another time, or no Memento-Datetime."""


class SavePageNowError(WaybackError):
    """Save Page Now refused a request or reported a failed job."""


class NotFound(SpyglassError):
    """No capture or page matches what was asked for."""


class ExportError(SpyglassError):
    """The selection is empty or invalid, or the package could not be written or validated."""


class TimestampError(SpyglassError):
    """A time-stamp could not be obtained or checked (TSA unreachable, bad reply, no openssl)."""


class AtlasError(SpyglassError):
    """An Atlas of Surveillance export that cannot be imported; the message names the file and line."""
