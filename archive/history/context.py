"""The rules history is computed by, a count of the work done, and per-batch look-ups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from archive.history.passages import TextKeys


@dataclass(frozen=True)
class Rules:
    """What counts as site-wide boilerplate (settings SPYGLASS_BOILERPLATE_*)."""

    # A sentence on at least this share of a host's pages, and on at least
    # min_pages of them, is furniture (a cookie notice, a call to action), not
    # a claim: it never makes a version or a change.
    boilerplate_share: float = 0.5
    boilerplate_min_pages: int = 3
    # The most recently seen pages of a host that are read to find it: enough
    # to see what is on most pages, bounded on a site of a million pages.
    boilerplate_sample_pages: int = 2000

    def key(self) -> str:
        """The rules as text, stored with the boilerplate they found (boilerplate_settled.rules)."""
        return (
            f"share={self.boilerplate_share} min_pages={self.boilerplate_min_pages} "
            f"sample_pages={self.boilerplate_sample_pages}"
        )

    @classmethod
    def from_config(cls, config: Any) -> Rules:
        return cls(
            boilerplate_share=config.boilerplate_share, boilerplate_min_pages=config.boilerplate_min_pages
        )


@dataclass
class Work:
    """What computing history cost: tests count it to prove a new capture is not a rescan."""

    sightings_added: int = 0
    sightings_read: int = 0
    pages_regrouped: int = 0
    diffs: int = 0
    hosts_settled: int = 0  # hosts whose boilerplate was found again after a run


@dataclass
class Context:
    """One batch of history work on one index: its rules, its work count, cached look-ups."""

    db: sqlite_utils.Database
    rules: Rules = field(default_factory=Rules)
    work: Work = field(default_factory=Work)
    _boilerplate: dict[str, set[str]] = field(default_factory=dict)
    _watched: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Stored texts' sentence keys (passages.text_keys, by the text's
    # SHA-256), kept while one host is settled: finding its boilerplate and
    # re-keying its pages both need them. Forgotten after the host, so memory
    # stays bounded by the pages one host's boilerplate is found from.
    keyed: dict[str, TextKeys] = field(default_factory=dict)

    def boilerplate(self, host: str) -> set[str]:
        """Sentence keys (passages.sentence_key) of a host's site-wide boilerplate."""
        if host not in self._boilerplate:
            self._boilerplate[host] = {
                r[0]
                for r in self.db.execute(
                    "SELECT sentence_sha256 FROM boilerplate WHERE host = ?", [host]
                ).fetchall()
            }
        return self._boilerplate[host]

    def forget_boilerplate(self, host: str) -> None:
        self._boilerplate.pop(host, None)

    def watched(self, source: str | None) -> list[tuple[str, str]]:
        """(phrase, term_kind) watched for a source: its `watch:` list, product and aliases."""
        if source is None:
            return []
        if source not in self._watched:
            self._watched[source] = [
                (r[0], r[1])
                for r in self.db.execute(
                    "SELECT phrase, term_kind FROM watched_phrases WHERE source = ? ORDER BY phrase", [source]
                ).fetchall()
            ]
        return self._watched[source]
