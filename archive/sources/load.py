"""Load and validate sources.yml, with errors that name the file, the source and the field."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from archive.errors import ConfigError
from archive.sources.api_walk import API_SHAPES, WalkProblem
from archive.sources.every import DEFAULT_EVERY, EVERY_KINDS, parse_every
from archive.sources.model import (
    ALERT_MODES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PAGES,
    KINDS,
    RECRAWL_MODES,
    WAYBACK_MATCHES,
    Scope,
    Source,
    Target,
    WaybackWindow,
)
from archive.sources.walk import (
    SELECTOR_FIELDS,
    SHAPES,
    Walk,
    build_walk,
    selector_problem,
)

# libyaml's safe loader where installed: a file of Atlas of Surveillance links
# holds some 20,000 sources, which pure-Python YAML takes half a minute to read.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

SOURCE_FIELDS = {
    "name",
    "kind",
    "urls",
    "scope",
    "robots",
    "vendor",
    "product",
    "aliases",
    "agency",
    "notes",
    "walk",
    "recrawl",
    "allow_private",
    "wayback",
    "save_on_change",
    "watch",
    "live",
    "every",
    "requisites",
    "screenshot",
    "notify",
    "alert",
    "render",
}

NOTIFY_FIELDS = {"to", "digest"}

TARGET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")

WALK_FIELDS = {"shape", *SELECTOR_FIELDS}

WAYBACK_FIELDS = {"from", "to", "match", "every"}

SCOPE_FIELDS = {"hosts", "prefixes", "max_depth", "max_pages"}


class _Checker:
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


def load_sources(path: str | Path, variables: Mapping[str, str] | None = None) -> list[Source]:
    """Read and validate a sources file; `${VAR}` placeholders take their values from `variables`.

    Commands pass the environment; without `variables` every placeholder is unset.
    """
    path = Path(path)
    check = _Checker(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise check.fail(
            None,
            f"no such file (looked for {path.absolute()}); `spyglass init` writes a starter "
            "sources.yml, or name another file with --sources",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise check.fail(None, f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise check.fail(None, f"{line}not valid YAML: {problem}") from None
    return parse_sources(data, path, variables or {})


def parse_sources(data: Any, path: Path, variables: Mapping[str, str]) -> list[Source]:
    """Validate already-parsed YAML; split out so tests can feed dicts."""
    check = _Checker(path)
    if not isinstance(data, dict) or "sources" not in data:
        raise check.fail(None, "expected a mapping with a 'sources' list at the top")
    unknown = set(data) - {"sources", "every", "notify"}
    if unknown:
        raise check.fail(sorted(unknown)[0], "unknown top-level field")
    defaults = _parse_default_every(data.get("every"), check)
    notify = parse_notify(data.get("notify"), check, variables)
    entries = data["sources"]
    if not isinstance(entries, list) or not entries:
        raise check.fail("sources", "must be a non-empty list")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) else None
        source_check = _Checker(path, str(label) if label else f"#{index + 1}")
        source = _parse_source(entry, source_check, variables, defaults)
        if not (isinstance(entry, dict) and "notify" in entry):
            source = replace(source, notify=notify)
        if source.name in seen:
            raise source_check.fail("name", "duplicate name; each source needs its own")
        seen.add(source.name)
        sources.append(source)
    return sources


def _parse_default_every(raw: Any, check: _Checker) -> dict[str, str]:
    """The file-wide `every:`: one value for every kind of crawl, or one per kind."""
    defaults = dict(DEFAULT_EVERY)
    if raw is None:
        return defaults
    if isinstance(raw, dict):
        unknown = set(raw) - set(EVERY_KINDS)
        if unknown:
            raise check.fail(f"every.{sorted(unknown)[0]}", f"unknown kind; use {', '.join(EVERY_KINDS)}")
        for kind, value in raw.items():
            defaults[kind] = _every(value, f"every.{kind}", check)
        return defaults
    value = _every(raw, "every", check)
    # One value for the crawls; a Wayback harvest keeps its own default.
    return {**defaults, "vendor": value, "records": value}


def _every(value: Any, field_name: str, check: _Checker) -> str:
    try:
        return parse_every(value).text
    except ValueError as exc:
        raise check.fail(field_name, str(exc)) from None


def _parse_source(
    entry: Any, check: _Checker, variables: Mapping[str, str], defaults: Mapping[str, str] = DEFAULT_EVERY
) -> Source:
    if not isinstance(entry, dict):
        raise check.fail(None, "each source must be a mapping")
    unresolved: list[str] = []
    raw = entry
    # A target's unset secret holds back its alerts, not the crawl: it is expanded on its own.
    notify = parse_notify(entry["notify"], check, variables) if "notify" in entry else ()
    entry = _expand({k: v for k, v in entry.items() if k != "notify"}, check, variables, "", unresolved)
    try:
        return replace(_validated(entry, check, tuple(unresolved), defaults), notify=notify)
    except ConfigError:
        if not unresolved:
            raise
        # Without its placeholders' values the entry cannot be judged; it is kept
        # so other sources can be crawled, and `select` refuses to crawl it. The
        # names it gives do not depend on URLs, so mentions and the Atlas import
        # still know its vendor and product.
        name = str(entry.get("name") or check.source)
        return Source(
            name=name,
            kind=str(entry.get("kind")),
            urls=(),
            scope=Scope(hosts=()),
            notify=notify,
            unresolved=tuple(unresolved),
            **_terms_if_known(raw, check, variables),
        )


def _terms_if_known(raw: dict, check: _Checker, variables: Mapping[str, str]) -> dict[str, Any]:
    """Vendor, product, aliases and agency of an entry, when no placeholder of theirs is unset.

    Mentions are rebuilt from these terms alone, so an unset URL placeholder
    must not erase them; an unset placeholder in a term leaves them all out.
    """
    missing: list[str] = []
    terms = _expand(
        {k: raw[k] for k in ("vendor", "product", "agency") if k in raw}, check, variables, "", missing
    )
    if missing:
        return {}
    try:
        product, aliases = _parse_product(terms, check)
        return {
            "vendor": _optional_str(terms, "vendor", check),
            "product": product,
            "aliases": aliases,
            "agency": _optional_str(terms, "agency", check),
        }
    except ConfigError:
        return {}


def _validated(
    entry: dict, check: _Checker, unresolved: tuple[str, ...], defaults: Mapping[str, str]
) -> Source:
    unknown = set(entry) - SOURCE_FIELDS
    if unknown:
        raise check.fail(sorted(unknown)[0], "unknown field")
    name = _required_str(entry, "name", check)
    if not NAME_RE.match(name):
        raise check.fail("name", "use lowercase letters, digits, '-' and '_' (it names WARC files)")
    kind = _required_str(entry, "kind", check)
    if kind not in KINDS:
        raise check.fail("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")
    urls = _str_list(entry, "urls", check, required=True)
    for url in urls:
        _check_url(url, "urls", check)
    scope = _parse_scope(entry.get("scope", {}), urls, check)
    robots = entry.get("robots", True)
    if not isinstance(robots, bool):
        raise check.fail("robots", "must be true (obey robots.txt) or false")
    product, aliases = _parse_product(entry, check)
    walk = _parse_walk(entry, kind, check)
    recrawl = entry.get("recrawl", "all")
    if recrawl not in RECRAWL_MODES:
        raise check.fail("recrawl", f"must be one of {', '.join(RECRAWL_MODES)}; got {recrawl!r}")
    allow_private = _str_list(entry, "allow_private", check)
    for value in allow_private:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise check.fail(
                "allow_private", f"{value!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    save_on_change = entry.get("save_on_change", False)
    if not isinstance(save_on_change, bool):
        raise check.fail("save_on_change", "must be true (ask Save Page Now on change) or false")
    watch = _str_list(entry, "watch", check)
    for phrase in watch:
        if not phrase.split():
            raise check.fail("watch", "phrases must have at least one word")
    if len({" ".join(p.lower().split()) for p in watch}) != len(watch):
        raise check.fail("watch", "lists the same phrase twice")
    wayback = _parse_wayback(entry.get("wayback", False), check, defaults["wayback"])
    live = _parse_live(entry, wayback, check)
    requisites, screenshot = _parse_rendering(entry, kind, check)
    alert = entry.get("alert", "phrases")
    if alert not in ALERT_MODES:
        raise check.fail(
            "alert",
            f"must be phrases (watched phrases and product names) or any (every change); got {alert!r}",
        )
    render, render_urls = _parse_render(entry, kind, check)
    return Source(
        name=name,
        kind=kind,
        urls=urls,
        scope=scope,
        robots=robots,
        vendor=_optional_str(entry, "vendor", check),
        product=product,
        aliases=aliases,
        agency=_optional_str(entry, "agency", check),
        notes=_optional_str(entry, "notes", check),
        walk=walk,
        recrawl=recrawl,
        allow_private=allow_private,
        wayback=wayback,
        save_on_change=save_on_change,
        watch=watch,
        live=live,
        requisites=requisites,
        screenshot=screenshot,
        alert=alert,
        render=render,
        render_urls=render_urls,
        unresolved=unresolved,
        every=_every(entry["every"], "every", check) if "every" in entry else defaults[kind],
    )


def parse_notify(raw: Any, check: _Checker, variables: Mapping[str, str]) -> tuple[Target, ...]:
    """`notify:`: an Apprise URL, a list of them, or a mapping of `to` (URLs) and `digest`."""
    digest = False
    if isinstance(raw, dict):
        unknown = set(raw) - NOTIFY_FIELDS
        if unknown:
            raise check.fail(f"notify.{sorted(unknown)[0]}", "unknown field; use to, digest")
        digest = raw.get("digest", False)
        if not isinstance(digest, bool):
            raise check.fail("notify.digest", f"must be true (one message per run) or false, got {digest!r}")
        written = _str_list(raw, "to", check, prefix="notify.", required=True)
        where = "notify.to"
    else:
        written = _str_list({"notify": raw}, "notify", check)
        where = "notify"
    targets = []
    for url in written:
        if not TARGET_RE.match(url):
            # Not quoted: what is not a URL may be a secret put in the wrong place.
            raise check.fail(where, "each target must be an Apprise URL like mailto://... or json://...")
        unset: list[str] = []
        expanded = _expand(url, check, variables, where, unset)
        targets.append(Target(expanded, url, digest, unset[0] if unset else ""))
    if len({t.key for t in targets}) != len(targets):
        raise check.fail(where, "lists the same target twice")
    return tuple(targets)


def _parse_rendering(entry: dict, kind: str, check: _Checker) -> tuple[bool, bool]:
    """`requisites` (default: on for vendor sources, which alone archive them) and `screenshot`."""
    requisites = entry.get("requisites", kind == "vendor")
    if not isinstance(requisites, bool):
        raise check.fail(
            "requisites",
            "must be true (archive the stylesheets, images, fonts and "
            f"scripts pages need to render) or false, got {requisites!r}",
        )
    if requisites and kind != "vendor":
        raise check.fail(
            "requisites", "only vendor sources archive page requisites; remove it or use kind: vendor"
        )
    screenshot = entry.get("screenshot", False)
    if not isinstance(screenshot, bool):
        raise check.fail(
            "screenshot",
            "must be true (a screenshot of each page with headless "
            f"Chromium after the crawl) or false, got {screenshot!r}",
        )
    return requisites, screenshot


def _parse_render(entry: dict, kind: str, check: _Checker) -> tuple[str | None, tuple[str, ...]]:
    """`render: browser` (every page), or `render: {browser: [URL patterns]}` (the pages matching)."""
    raw = entry.get("render")
    if raw is None:
        return None, ()
    usage = "must be 'browser' or {browser: [URL patterns]}"
    if isinstance(raw, dict):
        if set(raw) != {"browser"}:
            raise check.fail("render", f"{usage}, got keys {sorted(raw)}")
        patterns = raw["browser"]
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            raise check.fail("render.browser", "must be a non-empty list of URL patterns (e.g. '*/app/*')")
        urls = tuple(patterns)
    elif raw == "browser":
        urls = ()
    else:
        raise check.fail("render", f"{usage}, got {raw!r}")
    if kind != "vendor":
        raise check.fail(
            "render", "only vendor sources load pages in a browser; remove it or use kind: vendor"
        )
    return "browser", urls


def _parse_walk(entry: dict, kind: str, check: _Checker) -> Walk | None:
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


def _parse_wayback(raw: Any, check: _Checker, every: str) -> WaybackWindow | None:
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
        every = _every(raw["every"], "wayback.every", check)
    return WaybackWindow(bounds[0], bounds[1], match, every)


def _parse_live(entry: dict, wayback: WaybackWindow | None, check: _Checker) -> bool:
    live = entry.get("live", True)
    if not isinstance(live, bool):
        raise check.fail("live", "must be true (capture the URLs live) or false (only their Wayback history)")
    if not live and wayback is None:
        raise check.fail("live", "is false and wayback is not set: nothing would be crawled")
    return live


def _parse_scope(raw: Any, urls: tuple[str, ...], check: _Checker) -> Scope:
    if not isinstance(raw, dict):
        raise check.fail("scope", "must be a mapping (hosts, prefixes, max_depth, max_pages)")
    unknown = set(raw) - SCOPE_FIELDS
    if unknown:
        raise check.fail(f"scope.{sorted(unknown)[0]}", "unknown field")
    hosts = tuple(h.lower() for h in _str_list(raw, "hosts", check, prefix="scope."))
    prefixes = _str_list(raw, "prefixes", check, prefix="scope.")
    for prefix in prefixes:
        _check_url(prefix, "scope.prefixes", check)
    if not hosts and not prefixes:
        # Nothing said: stay on the hosts of the start URLs, the least surprising scope.
        hosts = tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls))
    scope = Scope(
        hosts=hosts,
        prefixes=prefixes,
        max_depth=_count(raw, "max_depth", DEFAULT_MAX_DEPTH, check),
        max_pages=_count(raw, "max_pages", DEFAULT_MAX_PAGES, check, minimum=1),
    )
    for url in urls:
        if not scope.allows(url):
            raise check.fail("urls", f"{url} is outside the source's own scope")
    return scope


def _parse_product(entry: dict, check: _Checker) -> tuple[str | None, tuple[str, ...]]:
    raw = entry.get("product")
    aliases = _str_list(entry, "aliases", check)
    if isinstance(raw, dict):
        unknown = set(raw) - {"name", "aliases"}
        if unknown:
            raise check.fail(f"product.{sorted(unknown)[0]}", "unknown field")
        name = _required_str(raw, "name", check, prefix="product.")
        aliases = aliases + _str_list(raw, "aliases", check, prefix="product.")
        return name, aliases
    return _optional_str(entry, "product", check), aliases


def _expand(
    value: Any, check: _Checker, variables: Mapping[str, str], where: str, unresolved: list[str]
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
        return [_expand(v, check, variables, where, unresolved) for v in value]
    if isinstance(value, dict):
        return {
            k: _expand(v, check, variables, f"{where}.{k}" if where else str(k), unresolved)
            for k, v in value.items()
        }
    return value


def _required_str(raw: dict, key: str, check: _Checker, prefix: str = "") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise check.fail(prefix + key, "is required and must be text")
    return value.strip()


def _optional_str(raw: dict, key: str, check: _Checker, prefix: str = "") -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise check.fail(prefix + key, f"must be text, got {value!r}")
    return value.strip() or None


def _str_list(
    raw: dict, key: str, check: _Checker, prefix: str = "", required: bool = False
) -> tuple[str, ...]:
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


def _count(raw: dict, key: str, default: int, check: _Checker, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise check.fail(f"scope.{key}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def _check_url(url: str, field_name: str, check: _Checker) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise check.fail(field_name, f"{url!r} is not an http(s) URL")
