"""Page requisites: what a page refers to (HTML and CSS), and the sources.yml fields that turn them on."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from archive.errors import ConfigError
from archive.sources.load import load_sources
from archive.text.refs import css_refs, html_requisites, parse_srcset, rewrite_css, rewrite_srcset

PAGE = b"""<!DOCTYPE html><html><head><base href="/docs/">
<link rel="stylesheet" href="main.css"><link rel="shortcut icon" href="/favicon.ico">
<link rel="canonical" href="/docs/page"><link rel="preload" as="font" href="/f/a.woff2">
<link rel="preconnect" href="https://cdn.example">
<style>@import "print.css" print; .hero { background: url( 'hero.jpg' ) }
@font-face { font-family: X; src: url(/f/x.woff2) format("woff2"), url(data:font/woff;base64,AA) }</style>
<script src="https://cdn.example/app.js"></script></head>
<body background="paper.gif"><a href="/elsewhere">a link is not a requisite</a>
<img src="shot.png" srcset="shot-2x.png 2x, https://cdn.example/shot-3x.png 3x">
<picture><source srcset="wide.webp 1200w, narrow.webp 600w"></picture>
<div style="background-image: url(&quot;tile.png&quot;)"></div>
<video poster="poster.jpg"><source src="clip.mp4"></video>
<svg><image xlink:href="diagram.png"/></svg><iframe src="/embed"></iframe>
<img src="data:image/png;base64,AAAA"><img src="#nothing"></body></html>"""


def test_html_requisites_name_every_kind_once_in_order():
    root = lxml.html.document_fromstring(PAGE)
    found = html_requisites(root, "https://v.example/en/page.html")
    assert found == [
        ("https://v.example/docs/main.css", "stylesheet"),
        ("https://v.example/favicon.ico", "icon"),
        ("https://v.example/f/a.woff2", "font"),
        ("https://v.example/docs/print.css", "stylesheet"),
        ("https://v.example/docs/hero.jpg", "image"),
        ("https://v.example/f/x.woff2", "font"),
        ("https://cdn.example/app.js", "script"),
        ("https://v.example/docs/paper.gif", "image"),
        ("https://v.example/docs/shot.png", "image"),
        ("https://v.example/docs/shot-2x.png", "image"),
        ("https://cdn.example/shot-3x.png", "image"),
        ("https://v.example/docs/wide.webp", "image"),
        ("https://v.example/docs/narrow.webp", "image"),
        ("https://v.example/docs/tile.png", "image"),
        ("https://v.example/docs/poster.jpg", "image"),
        ("https://v.example/docs/clip.mp4", "media"),
        ("https://v.example/docs/diagram.png", "image"),
    ]


def test_srcset_candidates_split_as_the_html_standard_says():
    assert parse_srcset("a.png 1x,b.png 2x , c.png") == [("a.png", "1x"), ("b.png", "2x"), ("c.png", "")]
    assert parse_srcset(" data:image/png;base64,AA,BB 2x, x.png,, y.png 100w") == [
        ("data:image/png;base64,AA,BB", "2x"),
        ("x.png", ""),
        ("y.png", "100w"),
    ]
    assert rewrite_srcset("a.png 1x, b.png 2x", lambda u: "/r?u=" + u) == "/r?u=a.png 1x, /r?u=b.png 2x"


def test_css_imports_urls_and_fonts_are_found_and_rewritten_in_place():
    css = (
        "@import url(\"a.css\"); @import 'b.css' screen;\nx { background: url(c.png) }\n"
        '@font-face { src: url("f.woff") } y { background: url(data:image/png;base64,AA) }\n'
        "z { background: url(sp\\(a\\)ce.png) }"
    )
    assert css_refs(css, "http://h/s/") == [
        ("http://h/s/a.css", "stylesheet"),
        ("http://h/s/b.css", "stylesheet"),
        ("http://h/s/c.png", "image"),
        ("http://h/s/f.woff", "font"),
        ("http://h/s/sp(a)ce.png", "image"),
    ]
    rewritten = rewrite_css(css, lambda ref, kind: None if ref.startswith("data:") else f"/r?{kind}={ref}")
    assert rewritten == (
        '@import url("/r?stylesheet=a.css"); @import "/r?stylesheet=b.css" screen;\n'
        'x { background: url("/r?image=c.png") }\n@font-face { src: url("/r?font=f.woff") } '
        'y { background: url(data:image/png;base64,AA) }\nz { background: url("/r?image=sp(a)ce.png") }'
    )


def write_sources(tmp_path: Path, extra: str, kind: str = "vendor") -> Path:
    path = tmp_path / "sources.yml"
    path.write_text(f"sources:\n  - {{name: acme, kind: {kind}, urls: ['https://a.example/']{extra}}}\n")
    return path


def test_requisites_are_on_for_vendor_sources_and_screenshots_off_by_default(tmp_path: Path):
    [vendor] = load_sources(write_sources(tmp_path, ""))
    assert vendor.requisites and not vendor.screenshot
    [records] = load_sources(write_sources(tmp_path, "", kind="records"))
    assert not records.requisites and not records.screenshot
    [chosen] = load_sources(write_sources(tmp_path, ", requisites: false, screenshot: true"))
    assert not chosen.requisites and chosen.screenshot


@pytest.mark.parametrize(
    "extra, kind, message",
    [
        (
            ", requisites: sometimes",
            "vendor",
            "field 'requisites': must be true (archive the stylesheets, "
            "images, fonts and scripts pages need to render) or false, got 'sometimes'",
        ),
        (
            ", requisites: true",
            "records",
            "field 'requisites': only vendor sources archive page requisites; remove it or use kind: vendor",
        ),
        (
            ", screenshot: 1",
            "vendor",
            "field 'screenshot': must be true (a screenshot of each page with "
            "headless Chromium after the crawl) or false, got 1",
        ),
    ],
)
def test_rendering_fields_are_validated_in_one_line(tmp_path: Path, extra: str, kind: str, message: str):
    path = write_sources(tmp_path, extra, kind)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    assert str(info.value) == f"{path}: source 'acme': {message}"
