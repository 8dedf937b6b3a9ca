"""A Scrapyd egg of this project: the spiders and the archive package, and where their settings are.

Scrapyd runs a deployed project from an egg whose `scrapy` entry point names
its settings module. Spyglass's dependencies must be installed in Scrapyd's
Python environment (`pip install` this project there); the egg then pins the
code Scrapyd runs to the version deployed.
"""

from __future__ import annotations

import zipfile
from importlib.resources import files
from pathlib import Path

from archive import __version__

PACKAGES = ("archive", "spiders")
SETTINGS_MODULE = "archive.crawl.settings"


def build_egg(out: Path) -> Path:
    """Write the egg to `out` (a .egg file) and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as egg:
        for package in PACKAGES:
            # Where the package is imported from: a checkout or site-packages alike.
            top = Path(str(files(package)))
            for path in sorted(top.rglob("*.py")):
                egg.write(path, (Path(package) / path.relative_to(top)).as_posix())
        egg.writestr("EGG-INFO/PKG-INFO", f"Metadata-Version: 2.1\nName: spyglass\nVersion: {__version__}\n")
        egg.writestr("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {SETTINGS_MODULE}\n")
        egg.writestr("EGG-INFO/top_level.txt", "\n".join(PACKAGES) + "\n")
        egg.writestr("EGG-INFO/zip-safe", "")
    return out
