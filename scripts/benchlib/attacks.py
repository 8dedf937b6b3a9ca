"""The heavy work strangers ask of the publishing load test's heavy pages (scripts/benchlib/heavy.py).

Standard library only: the Locust file imports it, and so does the load test
itself, which must not import Locust (it patches the whole process for gevent).
"""

from __future__ import annotations

from urllib.parse import quote

PHRASE = " ".join(["a"] * 1000 + ["b"])
LONG_PHRASE = quote(PHRASE)


def heavy_paths(change: str, first: str, second: str, big: str, url: str) -> list[str]:
    """Requests for heavy work on the heavy pages: diffs, phrases, searches and replays that
    once stalled the server."""
    return [
        f"/-/spyglass/diff?change={change}",
        f"/-/spyglass/diff?from={second}&to={first}&view=inline",
        f"/-/spyglass/diff?from={first}&to={first}",
        f"/-/spyglass/timeline?url={quote(url)}&phrase={LONG_PHRASE}",
        f"/-/spyglass/archived/{big}",
        f"/-/spyglass/replay/{big}",
        f"/-/spyglass/search?q={quote('a ' * 2000)}",
        f"/spyglass/search?q={LONG_PHRASE}",
        "/spyglass.json?sql=" + quote(f"select has_phrase(text, '{PHRASE}') from page_texts"),
    ]
