"""A searched captures page's count and facets (spyglass_counts): exact where they say so, the
newest matches where they say that, and the same rows as Datasette's own query."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from archive.index.captures import bulk_load_captures, save_captures
from archive.index.db import open_db

VENDORS = ["Northwind", "Contoso", "Fabrikam"]
EXACT = "_counts=exact"


def capture(i: int) -> dict[str, Any]:
    """A capture whose text holds `common` always, `rare` on every fifth, `third` on every third."""
    words = ["common", "surveillance"] + (["rare"] if i % 5 == 0 else []) + (["third"] if i % 3 == 0 else [])
    body = " ".join(words + [f"w{i}"])
    return {
        "url": f"https://vendor{i % 4}.example/p/{i}",
        "source": "bench",
        "via": "live" if i % 7 else "wayback",
        # Distinct as-of times (rows that tie come in index order when tested one by one, as on
        # a page without a search), not in id order: the sort is not the archive's order.
        "captured_at": f"{2024 + i // 80}-{1 + (i * 5) % 12:02d}-{1 + i % 28:02d}T00:{i // 60:02d}:{i % 60:02d}Z",
        "status": 200,
        "content_type": "text/html",
        "sha256": hashlib.sha256(body.encode()).hexdigest(),
        "warc_filename": "t.warc.gz",
        "warc_offset": i,
        "warc_length": 1,
        "warc_record_id": f"<urn:uuid:t-{i}>",
        "warc_type": "response",
        "title": f"Page {i}",
        "text": body,
        "vendor": VENDORS[i % 3],
        "product": f"P{i % 2}",
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 captures, loaded in bulk, then 30 more appended one batch at a time as a crawl does."""
    data = tmp_path_factory.mktemp("counts")
    db = open_db(data / "spyglass.db")
    db.table("sources").insert({"name": "bench", "kind": "vendor"})
    bulk_load_captures(db, [capture(i) for i in range(60)])
    for start in range(60, 90, 10):
        save_captures(db, [capture(i) for i in range(start, start + 10)])
    db.close()
    return data


def get(data: Path, paths: list[str], sample: int = 1000, html: bool = True) -> list[dict[str, Any]]:
    """JSON (and HTML, but for Datasette's exact pages) of each path, from an in-process Datasette
    configured as served, but with the captures table's `count_sample` set to `sample`."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    import spyglass_datasette.plugins.spyglass_counts as counts
    from archive.publish.datasette import METADATA, SETTINGS

    if not pm.is_registered(counts):  # a venv installed before the plugin had its entry point
        pm.register(counts, name="spyglass.spyglass_counts")
    metadata = yaml.safe_load(METADATA.read_text())
    metadata["databases"]["spyglass"]["tables"]["captures"]["plugins"]["spyglass"]["count_sample"] = sample

    async def fetch() -> list[dict[str, Any]]:
        ds = Datasette([str(data / "spyglass.db")], metadata=metadata, settings=SETTINGS)
        await ds.invoke_startup()
        pages = []
        for path in paths:
            json_path = path.replace("/captures?", "/captures.json?")
            answer = (await ds.client.get(json_path + "&_col=id&_col=vendor&_shape=objects")).json()
            page = (await ds.client.get(path)).text if html and EXACT not in path else ""
            pages.append({**answer, "html": page})
        return pages

    return asyncio.run(fetch())


def facets(page: dict[str, Any]) -> dict[str, dict[Any, int]]:
    return {name: {v["value"]: v["count"] for v in f["results"]} for name, f in page["facet_results"].items()}


def exact(data: Path, where: str, params: dict[str, Any], sql_tail: str = "") -> list[tuple]:
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        return conn.execute(f"select {where} {sql_tail}", params).fetchall()
    finally:
        conn.close()


SEARCHES = ["_search=common", "_search=rare", "_search=rare&vendor=Contoso", "_search=third&via=live"]
PAGES = [*SEARCHES, "_sort=id", "vendor=Contoso&product=P1", "_search=third&_facet_size=2&_facet=status"]


def test_count_and_facets_equal_the_exact_ones_after_captures_arrive(archive: Path):
    paths = [f"/spyglass/captures?{q}" for q in PAGES]
    pages = get(archive, paths + [p + "&_counts=exact" for p in paths])
    ours, theirs = pages[: len(paths)], pages[len(paths) :]
    for q, page, reference in zip(PAGES, ours, theirs):
        assert page["spyglass_counts"]["count_exact"] and page["spyglass_counts"]["facets_sample"] is None, q
        assert page["filtered_table_rows_count"] == reference["filtered_table_rows_count"], q
        assert facets(page) == facets(reference), q
        assert [r["id"] for r in page["rows"]] == [r["id"] for r in reference["rows"]], q
        assert "spyglass-counts" not in page["html"], q  # nothing to say: all exact
    # ... and the reference itself is what SQLite counts: 18 captures hold "rare", 6 of them Contoso's.
    assert ours[1]["filtered_table_rows_count"] == 18
    assert ours[2]["filtered_table_rows_count"] == 6 and facets(ours[2])["vendor"] == {"Contoso": 6}
    assert (
        facets(ours[0])["as_of_at"] == {"2024": 80, "2025": 10} and ours[4]["filtered_table_rows_count"] == 90
    )
    assert ours[5]["filtered_table_rows_count"] == 15  # i % 3 == 1 and i odd


def test_facets_of_a_sample_say_so_and_count_the_newest_matches(archive: Path):
    paths = ["_search=rare", "_search=rare&vendor=Contoso", "_sort=id", "vendor=Contoso"]
    searched, filtered, every, narrowed = get(archive, [f"/spyglass/captures?{p}" for p in paths], 5)
    # The count still comes whole from the index; the facets count the 5 newest matches.
    assert searched["filtered_table_rows_count"] == 18 and searched["spyglass_counts"]["count_exact"]
    newest = [i for i in range(89, -1, -1) if i % 5 == 0][:5]
    assert facets(searched)["vendor"] == {v: sum(VENDORS[i % 3] == v for i in newest) for v in VENDORS if v}
    assert "most recently archived of these rows, not all 18" in searched["html"]
    assert "_counts=exact" in searched["html"]
    # With a filter besides the search the count is an estimate: labelled, never given as exact.
    assert filtered["filtered_table_rows_count"] is None and not filtered["spyglass_counts"]["count_exact"]
    assert "an estimate" in filtered["html"]
    # Its rows are the right rows all the same.
    ids = [r["id"] for r in filtered["rows"]]
    assert sorted(ids) == [i + 1 for i in range(90) if i % 5 == 0 and i % 3 == 1]
    # Without a search: the whole table's count is exact, its facets the newest 5 captures'.
    assert every["filtered_table_rows_count"] == 90 and facets(every)["product"] == {"P0": 2, "P1": 3}
    assert narrowed["filtered_table_rows_count"] is None and "an estimate" in narrowed["html"]
    assert facets(narrowed)["vendor"] == {"Contoso": 5}


@pytest.mark.parametrize("sort,probed", [("", True), ("&_sort_desc=id", True), ("&_sort=title", False)])
def test_rows_tested_in_sort_order_are_the_rows_datasette_reads(archive: Path, monkeypatch, sort, probed):
    import spyglass_datasette.plugins.spyglass_counts as counts

    monkeypatch.setattr(counts, "PROBE_COST", 0.001)  # test rows one by one whatever the density
    tested: list[str] = []
    probe = counts.Search.probe
    monkeypatch.setattr(
        counts.Search, "probe", lambda self, table: tested.append(table) or probe(self, table)
    )
    queries = [f"/spyglass/captures?{q}{sort}&_size=7" for q in SEARCHES]
    queries += [
        q + "&_next=" + page["next"] for q, page in zip(queries, get(archive, queries)) if page["next"]
    ]
    pages = get(archive, queries + [q + "&_counts=exact" for q in queries])
    ours, theirs = pages[: len(queries)], pages[len(queries) :]
    assert (
        len(queries) > len(SEARCHES) and bool(tested) == probed
    )  # pages 2, and the row-by-row form, were read
    for q, page, reference in zip(queries, ours, theirs):
        assert [r["id"] for r in page["rows"]] == [r["id"] for r in reference["rows"]], q
        assert page["next"] == reference["next"], q
