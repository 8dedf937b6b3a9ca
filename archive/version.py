"""Which Spyglass is running: its version, and the git commit when it runs from a checkout.

A crawl run records it, so "captured by Spyglass <version>" names the code that
made a capture: a release by its version, a checkout by its commit too.
"""

from __future__ import annotations

import functools
import subprocess
from importlib.resources import files
from pathlib import Path

from archive import __version__


@functools.cache
def spyglass_version() -> str:
    """`0.1.0` installed, `0.1.0 (git 1a2b3c4d5e6f)` from a checkout (`-dirty` with uncommitted edits)."""
    commit = checkout_commit()
    return f"{__version__} (git {commit})" if commit else __version__


def checkout_commit() -> str | None:
    """The commit of the git checkout the package is imported from; None for an installed package."""
    # A checkout holds the package at its top, beside .git (a directory, or a file in a worktree).
    root = Path(str(files("archive"))).parent
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12", "--exclude=*"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
