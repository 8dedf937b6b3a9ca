"""The sources file `spyglass init` writes: sources.example.yml's documented entries, shipped in the package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from archive.errors import ConfigError

# Package data; in a checkout, a link to the repository's sources.example.yml (the one copy).
EXAMPLE = files("archive.sources") / "sources.example.yml"
HEADER = """\
# sources.yml: what this archive watches, written by `spyglass init`.
# The entries below are real-world examples (README.md, "sources.yml", describes
# every field): keep the ones you want, edit them, add your own, then run
# `spyglass crawl` (add --source NAME to crawl one). The example file's own notes follow.

"""


def write_starter(path: Path) -> Path:
    """Write the starter sources file at `path`; an existing file is never overwritten."""
    if path.exists():
        raise ConfigError(f"{path}: already exists; spyglass init leaves an existing sources file alone")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return path
