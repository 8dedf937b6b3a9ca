"""Archive: the paths of one data directory (its index, its WARC files, its time-stamped chain heads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.config import Config

DB_NAME = "spyglass.db"
WARC_DIR = "warcs"
CHAIN_DIR = "chain"  # time-stamped heads of the captures hash chain


@dataclass(frozen=True)
class Archive:
    """A data directory: its index, its WARC files and its time-stamped chain heads."""

    data_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))

    @classmethod
    def from_config(cls, config: Config) -> Archive:
        """The Archive in a configuration's data directory."""
        return cls(config.data_dir)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / WARC_DIR

    @property
    def chain_dir(self) -> Path:
        return self.data_dir / CHAIN_DIR

    def warc_path(self, filename: str) -> Path:
        """Where a WARC file named in the index lives."""
        return self.warc_dir / filename

    def exists(self) -> bool:
        return self.db_path.exists()
