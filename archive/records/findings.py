"""What a JSON walk found, step by step: the run's summary, and its verdict when a step found nothing.

A walk that lists requests but reaches no files has not done its work, though
nothing failed: the portal may list files another way than the walk expects.
Counting each step's items, and which of them were walked further, tells that
apart from a re-crawl that walked nothing new (unchanged releases are not
walked again), and names the step that came back empty and the URL it tried.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from archive.sources.api_walk import Step


@dataclass
class Findings:
    """Items per step name, the items walked further, where each step was first asked, the files named."""

    found: Counter[str] = field(default_factory=Counter)
    expanded: Counter[str] = field(default_factory=Counter)  # items whose child listings were asked for
    tried: dict[str, str] = field(default_factory=dict)  # step name -> the first URL it was asked at
    files: set[str] = field(default_factory=set)  # stable pages of the files named
    releases: int = 0  # releases the listing gave (its malformed items are not)

    def listed(self, step: Step, count: int, url: str) -> None:
        """A response of `step` at `url` held `count` items."""
        self.found[step.name] += count
        self.tried.setdefault(step.name, url)

    def asked(self, step: Step, url: str) -> None:
        """A child listing of `step` was asked for at `url`."""
        self.tried.setdefault(step.name, url)

    def summary(self, listing: Step) -> dict[str, int]:
        """{'requests': 3, 'releases': 2, 'communications': 3, 'files': 2}, in walk order."""
        counts = {listing.name: self.found[listing.name], "releases": self.releases, **self.found}
        counts["files"] = len(self.files)
        return counts

    def first_empty(self, step: Step) -> str | None:
        """One line naming the first step whose parent's walked items led to none of its own."""
        if self.expanded[step.name] == 0:
            return None  # not walked below this step in this run (unchanged, or none found)
        if step.files and not self.files:
            return f"{self.found[step.name]} {step.name} named no files (tried {self.tried[step.name]})"
        for child in {f.step.name: f.step for f in step.follow}.values():
            if self.found[child.name] == 0:
                tried = self.tried.get(child.name) or self.tried.get(step.name, "")
                return f"{self.expanded[step.name]} {step.name} led to no {child.name} (tried {tried})"
            problem = self.first_empty(child)
            if problem:
                return problem
        return None
