"""Load and validate sources.yml, with errors that name the file, the source and the field."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from archive.errors import ConfigError
from archive.sources.every import DEFAULT_EVERY, EVERY_KINDS
from archive.sources.fields import (
    Checker,
    check_url,
    every_text,
    expand,
    optional_str,
    parse_live,
    parse_notify,
    parse_product,
    parse_scope,
    parse_walk,
    parse_wayback,
    required_str,
    str_list,
)
from archive.sources.model import (
    ALERT_MODES,
    KINDS,
    RECRAWL_MODES,
    Scope,
    Source,
)

# libyaml's safe loader where installed: a file of Atlas of Surveillance links
# holds some 20,000 sources, which pure-Python YAML takes half a minute to read.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

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


def load_sources(path: str | Path, variables: Mapping[str, str] | None = None) -> list[Source]:
    """Read and validate a sources file; `${VAR}` placeholders take their values from `variables`.

    Commands pass the environment; without `variables` every placeholder is unset.
    """
    path = Path(path)
    check = Checker(path)
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
    check = Checker(path)
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
        source_check = Checker(path, str(label) if label else f"#{index + 1}")
        source = _parse_source(entry, source_check, variables, defaults)
        if not (isinstance(entry, dict) and "notify" in entry):
            source = replace(source, notify=notify)
        if source.name in seen:
            raise source_check.fail("name", "duplicate name; each source needs its own")
        seen.add(source.name)
        sources.append(source)
    return sources


def _parse_default_every(raw: Any, check: Checker) -> dict[str, str]:
    """The file-wide `every:`: one value for every kind of crawl, or one per kind."""
    defaults = dict(DEFAULT_EVERY)
    if raw is None:
        return defaults
    if isinstance(raw, dict):
        unknown = set(raw) - set(EVERY_KINDS)
        if unknown:
            raise check.fail(f"every.{sorted(unknown)[0]}", f"unknown kind; use {', '.join(EVERY_KINDS)}")
        for kind, value in raw.items():
            defaults[kind] = every_text(value, f"every.{kind}", check)
        return defaults
    value = every_text(raw, "every", check)
    # One value for the crawls; a Wayback harvest keeps its own default.
    return {**defaults, "vendor": value, "records": value}


def _parse_source(
    entry: Any, check: Checker, variables: Mapping[str, str], defaults: Mapping[str, str] = DEFAULT_EVERY
) -> Source:
    if not isinstance(entry, dict):
        raise check.fail(None, "each source must be a mapping")
    unresolved: list[str] = []
    raw = entry
    # A target's unset secret holds back its alerts, not the crawl: it is expanded on its own.
    notify = parse_notify(entry["notify"], check, variables) if "notify" in entry else ()
    entry = expand({k: v for k, v in entry.items() if k != "notify"}, check, variables, "", unresolved)
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


def _terms_if_known(raw: dict, check: Checker, variables: Mapping[str, str]) -> dict[str, Any]:
    """Vendor, product, aliases and agency of an entry, when no placeholder of theirs is unset.

    Mentions are rebuilt from these terms alone, so an unset URL placeholder
    must not erase them; an unset placeholder in a term leaves them all out.
    """
    missing: list[str] = []
    terms = expand(
        {k: raw[k] for k in ("vendor", "product", "agency") if k in raw}, check, variables, "", missing
    )
    if missing:
        return {}
    try:
        product, aliases = parse_product(terms, check)
        return {
            "vendor": optional_str(terms, "vendor", check),
            "product": product,
            "aliases": aliases,
            "agency": optional_str(terms, "agency", check),
        }
    except ConfigError:
        return {}


def _validated(
    entry: dict, check: Checker, unresolved: tuple[str, ...], defaults: Mapping[str, str]
) -> Source:
    unknown = set(entry) - SOURCE_FIELDS
    if unknown:
        raise check.fail(sorted(unknown)[0], "unknown field")
    name = required_str(entry, "name", check)
    if not NAME_RE.match(name):
        raise check.fail("name", "use lowercase letters, digits, '-' and '_' (it names WARC files)")
    kind = required_str(entry, "kind", check)
    if kind not in KINDS:
        raise check.fail("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")
    urls = str_list(entry, "urls", check, required=True)
    for url in urls:
        check_url(url, "urls", check)
    scope = parse_scope(entry.get("scope", {}), urls, check)
    robots = entry.get("robots", True)
    if not isinstance(robots, bool):
        raise check.fail("robots", "must be true (obey robots.txt) or false")
    product, aliases = parse_product(entry, check)
    walk = parse_walk(entry, kind, check)
    recrawl = entry.get("recrawl", "all")
    if recrawl not in RECRAWL_MODES:
        raise check.fail("recrawl", f"must be one of {', '.join(RECRAWL_MODES)}; got {recrawl!r}")
    allow_private = str_list(entry, "allow_private", check)
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
    watch = str_list(entry, "watch", check)
    for phrase in watch:
        if not phrase.split():
            raise check.fail("watch", "phrases must have at least one word")
    if len({" ".join(p.lower().split()) for p in watch}) != len(watch):
        raise check.fail("watch", "lists the same phrase twice")
    wayback = parse_wayback(entry.get("wayback", False), check, defaults["wayback"])
    live = parse_live(entry, wayback, check)
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
        vendor=optional_str(entry, "vendor", check),
        product=product,
        aliases=aliases,
        agency=optional_str(entry, "agency", check),
        notes=optional_str(entry, "notes", check),
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
        every=every_text(entry["every"], "every", check) if "every" in entry else defaults[kind],
    )


def _parse_rendering(entry: dict, kind: str, check: Checker) -> tuple[bool, bool]:
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


def _parse_render(entry: dict, kind: str, check: Checker) -> tuple[str | None, tuple[str, ...]]:
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
