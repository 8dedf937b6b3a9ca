"""The fields of a sources.yml entry, each parsed and checked with a one-line error.

archive/sources/load.py reads the file and assembles a Source from these; every error names
the file, the source and the field (Checker).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.errors import ConfigError
from archive.sources.api_walk import API_SHAPES, WalkProblem
from archive.sources.every import parse_every
from archive.sources.model import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PAGES,
    WAYBACK_MATCHES,
    Scope,
    Target,
    WaybackWindow,
)
from archive.sources.walk import SELECTOR_FIELDS, SHAPES, Walk, build_walk, selector_problem

PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

NOTIFY_FIELDS = {"to", "digest"}

TARGET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")

WALK_FIELDS = {"shape", *SELECTOR_FIELDS}

WAYBACK_FIELDS = {"from", "to", "match", "every"}

SCOPE_FIELDS = {"hosts", "prefixes", "max_depth", "max_pages"}


class Checker:
    """Builds one-line errors that name the file, the source and the field."""

    def __init__(self, path: Path, source: str | None = None) -> None:
        self.path = path
        self.source = source

    def fail(self, field_name: str | None, message: str) -> ConfigError:
        where = [str(self.path)]
        if self.source is not None:
            where.append(f"source {self.source!r}")
        if field_name:
            where.append(f"field {field_name!r}")
        return ConfigError(": ".join(where) + ": " + message)


def every_text(value: Any, field_name: str, check: Checker) -> str:
    """A schedule (`every:`) in its canonical text, or the field's one-line error."""
    try:
        return parse_every(value).text
    except ValueError as exc:
        raise check.fail(field_name, str(exc)) from None


def parse_notify(raw: Any, check: Checker, variables: Mapping[str, str]) -> tuple[Target, ...]:
    """`notify:`: an Apprise URL, a list of them, or a mapping of `to` (URLs) and `digest`."""
    digest = False
    if isinstance(raw, dict):
        unknown = set(raw) - NOTIFY_FIELDS
        if unknown:
            raise check.fail(f"notify.{sorted(unknown)[0]}", "unknown field; use to, digest")
        digest = raw.get("digest", False)
        if not isinstance(digest, bool):
            raise check.fail("notify.digest", f"must be true (one message per run) or false, got {digest!r}")
        written = str_list(raw, "to", check, prefix="notify.", required=True)
        where = "notify.to"
    else:
        written = str_list({"notify": raw}, "notify", check)
        where = "notify"
    targets = []
    for url in written:
        if not TARGET_RE.match(url):
            # Not quoted: what is not a URL may be a secret put in the wrong place.
            raise check.fail(where, "each target must be an Apprise URL like mailto://... or json://...")
        unset: list[str] = []
        expanded = expand(url, check, variables, where, unset)
        targets.append(Target(expanded, url, digest, unset[0] if unset else ""))
    if len({t.key for t in targets}) != len(targets):
        raise check.fail(where, "lists the same target twice")
    return tuple(targets)


def parse_walk(entry: dict, kind: str, check: Checker) -> Walk | None:
    """Records sources get a Walk (defaults: a plain directory of files); others may not have one."""
    raw = entry.get("walk")
    if kind != "records":
        if raw is not None:
            raise check.fail("walk", "only records sources are walked; remove it or use kind: records")
        return None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise check.fail("walk", "must be a mapping of selectors (shape, release_links, files, ...)")
    shape = raw.get("shape", "directory")
    if shape not in SHAPES:
        raise check.fail("walk.shape", f"must be one of {', '.join(SHAPES)}; got {shape!r}")
    if shape in API_SHAPES:
        try:
            return build_walk(raw)
        except WalkProblem as problem:
            raise check.fail(problem.field, str(problem)) from None
    unknown = set(raw) - WALK_FIELDS
    if unknown:
        raise check.fail(f"walk.{sorted(unknown)[0]}", "unknown field")
    for key in SELECTOR_FIELDS:
        if raw.get(key) is None:
            continue
        problem = selector_problem(raw[key])
        if problem:
            raise check.fail(f"walk.{key}", problem)
        if raw[key].strip().startswith("column:") and "release_rows" not in raw and shape != "records-table":
            raise check.fail(f"walk.{key}", "column: selectors work only inside release_rows")
    return build_walk(raw)


def parse_wayback(raw: Any, check: Checker, every: str) -> WaybackWindow | None:
    """`wayback:`: true, false, or a window (from, to, match, every) of a source's history."""
    if raw is True:
        return WaybackWindow(every=every)
    if raw is False or raw is None:
        return None
    if not isinstance(raw, dict):
        raise check.fail("wayback", "must be true, false or a mapping (from, to, match)")
    unknown = set(raw) - WAYBACK_FIELDS
    if unknown:
        raise check.fail(f"wayback.{sorted(unknown)[0]}", "unknown field")
    bounds = []
    for key in ("from", "to"):
        value = raw.get(key)
        if value is not None:
            value = str(value)
            if isinstance(raw.get(key), bool) or not re.fullmatch(r"\d{4}(\d{2}){0,5}", value):
                raise check.fail(
                    f"wayback.{key}",
                    f"must be a year or a timestamp like 2016 or 20160301, got {raw.get(key)!r}",
                )
        bounds.append(value)
    if bounds[0] and bounds[1] and bounds[0][:4] > bounds[1][:4]:
        raise check.fail("wayback.to", f"{bounds[1]} is before wayback.from {bounds[0]}")
    match = raw.get("match", "exact")
    if match not in WAYBACK_MATCHES:
        raise check.fail("wayback.match", f"must be one of {', '.join(WAYBACK_MATCHES)}; got {match!r}")
    if "every" in raw:
        every = every_text(raw["every"], "wayback.every", check)
    return WaybackWindow(bounds[0], bounds[1], match, every)


def parse_live(entry: dict, wayback: WaybackWindow | None, check: Checker) -> bool:
    """`live:`: whether the URLs are captured live; false needs a Wayback window."""
    live = entry.get("live", True)
    if not isinstance(live, bool):
        raise check.fail("live", "must be true (capture the URLs live) or false (only their Wayback history)")
    if not live and wayback is None:
        raise check.fail("live", "is false and wayback is not set: nothing would be crawled")
    return live


def parse_scope(raw: Any, urls: tuple[str, ...], check: Checker) -> Scope:
    """`scope:`: hosts and prefixes a crawl stays within (default: its start URLs' hosts), and its bounds."""
    if not isinstance(raw, dict):
        raise check.fail("scope", "must be a mapping (hosts, prefixes, max_depth, max_pages)")
    unknown = set(raw) - SCOPE_FIELDS
    if unknown:
        raise check.fail(f"scope.{sorted(unknown)[0]}", "unknown field")
    hosts = tuple(h.lower() for h in str_list(raw, "hosts", check, prefix="scope."))
    prefixes = str_list(raw, "prefixes", check, prefix="scope.")
    for prefix in prefixes:
        check_url(prefix, "scope.prefixes", check)
    if not hosts and not prefixes:
        # Nothing said: stay on the hosts of the start URLs, the least surprising scope.
        hosts = tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls))
    scope = Scope(
        hosts=hosts,
        prefixes=prefixes,
        max_depth=count(raw, "max_depth", DEFAULT_MAX_DEPTH, check),
        max_pages=count(raw, "max_pages", DEFAULT_MAX_PAGES, check, minimum=1),
    )
    for url in urls:
        if not scope.allows(url):
            raise check.fail("urls", f"{url} is outside the source's own scope")
    return scope


def parse_product(entry: dict, check: Checker) -> tuple[str | None, tuple[str, ...]]:
    """`product:` as a name or {name, aliases}, with the source's `aliases`."""
    raw = entry.get("product")
    aliases = str_list(entry, "aliases", check)
    if isinstance(raw, dict):
        unknown = set(raw) - {"name", "aliases"}
        if unknown:
            raise check.fail(f"product.{sorted(unknown)[0]}", "unknown field")
        name = required_str(raw, "name", check, prefix="product.")
        aliases = aliases + str_list(raw, "aliases", check, prefix="product.")
        return name, aliases
    return optional_str(entry, "product", check), aliases


def expand(
    value: Any, check: Checker, variables: Mapping[str, str], where: str, unresolved: list[str]
) -> Any:
    """Replace `${VAR}` in every string; an unset one is noted in `unresolved`.

    It is replaced by a stand-in under the reserved .invalid domain, so the
    rest of the entry can still be validated.
    """
    if isinstance(value, str):

        def sub(match: re.Match) -> str:
            name = match.group(1)
            if name not in variables:
                unresolved.append(str(check.fail(where or None, f"placeholder ${{{name}}} is not set")))
                return "http://unset.invalid" if match.start() == 0 else "unset.invalid"
            return variables[name]

        return PLACEHOLDER_RE.sub(sub, value)
    if isinstance(value, list):
        return [expand(v, check, variables, where, unresolved) for v in value]
    if isinstance(value, dict):
        return {
            k: expand(v, check, variables, f"{where}.{k}" if where else str(k), unresolved)
            for k, v in value.items()
        }
    return value


def required_str(raw: dict, key: str, check: Checker, prefix: str = "") -> str:
    """A required text field, stripped."""
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise check.fail(prefix + key, "is required and must be text")
    return value.strip()


def optional_str(raw: dict, key: str, check: Checker, prefix: str = "") -> str | None:
    """An optional text field, stripped; None when absent or empty."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise check.fail(prefix + key, f"must be text, got {value!r}")
    return value.strip() or None


def str_list(
    raw: dict, key: str, check: Checker, prefix: str = "", required: bool = False
) -> tuple[str, ...]:
    """A text value or a list of them, as a tuple of stripped strings."""
    value = raw.get(key)
    if value is None:
        if required:
            raise check.fail(prefix + key, "is required: give at least one")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise check.fail(prefix + key, "must be a list of text values")
    if required and not value:
        raise check.fail(prefix + key, "is required: give at least one")
    return tuple(v.strip() for v in value)


def count(raw: dict, key: str, default: int, check: Checker, minimum: int = 0) -> int:
    """A non-negative integer bound of `scope:` (at least `minimum`)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise check.fail(f"scope.{key}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def check_url(url: str, field_name: str, check: Checker) -> None:
    """Refuse anything but an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise check.fail(field_name, f"{url!r} is not an http(s) URL")
