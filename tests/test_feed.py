"""The Atom feed of changes: valid Atom (RFC 4287), newest first, per source, vendor and watched phrase."""

from __future__ import annotations

import asyncio

import feedparser
from lxml import etree

from archive.publish.datasette import datasette_app

from .conftest import db_rows

ATOM = "{http://www.w3.org/2005/Atom}"


def get(data, path: str):
    ds = datasette_app(data)

    async def run():
        return await ds.client.get(path)

    return asyncio.run(run())


def check_atom(body: bytes) -> etree._Element:
    """RFC 4287's required elements, checked by hand, and feedparser's own reading of the feed."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):  # 4.1.1: exactly one of each
        assert len(root.findall(f"{ATOM}{tag}")) == 1, tag
    feed_author = root.find(f"{ATOM}author/{ATOM}name") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for tag in ("id", "title", "updated"):  # 4.1.2
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
        assert feed_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        assert (
            entry.find(f"{ATOM}content") is not None
            or entry.find(f"{ATOM}link[@rel='alternate']") is not None
        )
        assert all(link.get("href", "").startswith("http") for link in entry.findall(f"{ATOM}link"))
    return root


def test_the_feed_of_all_changes_is_valid_atom_newest_first(crawled):
    response = get(crawled["data"], "/spyglass/changes_feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = check_atom(response.content)
    entries = root.findall(f"{ATOM}entry")
    changes = db_rows(
        crawled["data"],
        "SELECT changed_at, page_url FROM changes WHERE substantive = 1 ORDER BY changed_at DESC",
    )
    assert [e.findtext(f"{ATOM}updated") for e in entries] == [c["changed_at"] for c in changes]
    # 8 changes, one of them the sitemap's, which is not a page (archive/history/notpages.py).
    assert not any(c["page_url"].endswith("sitemap.xml") for c in changes)
    assert len(entries) == 7 and root.findtext(f"{ATOM}updated") == changes[0]["changed_at"]
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("urn:spyglass:change:") for i in ids)
    removal = next(e for e in entries if e.findtext(f"{ATOM}updated").startswith("2020-06-10"))
    assert '("person tracking" disappeared)' in removal.findtext(f"{ATOM}title")
    content = removal.findtext(f"{ATOM}content")
    assert "Removed:\n" in content and "Person tracking lets agencies follow persons of interest" in content
    assert "https://web.archive.org/web/20200610160000/" in content  # the citation of the after capture
    assert removal.find(f"{ATOM}link").get("href").startswith("http://localhost/-/spyglass/diff?change=")


def test_feeds_per_source_vendor_and_phrase(crawled):
    data = crawled["data"]
    everything = check_atom(get(data, "/spyglass/changes_feed.atom").content).findall(f"{ATOM}entry")
    for query in ("source=northwind-recognize", "vendor=Northwind+Cloud"):
        assert len(
            check_atom(get(data, f"/spyglass/changes_feed.atom?{query}").content).findall(f"{ATOM}entry")
        ) == len(everything)
    phrase = check_atom(get(data, "/spyglass/changes_feed.atom?phrase=Person+Tracking").content)
    assert [e.findtext(f"{ATOM}updated")[:10] for e in phrase.findall(f"{ATOM}entry")][1:] == [
        "2020-07-01",
        "2020-06-10",
        "2018-07-20",
        "2018-06-01",
    ]
    assert phrase.findtext(f"{ATOM}title") == "Spyglass changes (phrase Person Tracking)"
    # A feed nobody has news for yet is still a valid feed.
    empty = check_atom(get(data, "/spyglass/changes_feed.atom?source=nobody").content)
    assert empty.findall(f"{ATOM}entry") == []


def test_search_what_changed(crawled):
    from .test_wayback_demo import query

    data, base = crawled["data"], crawled["base"]
    removed = query(data, "/spyglass/search_changes.json", {"q": "police", "side": "removed"})
    # Today's live pages dropped 2020's "not for police" sentences.
    assert {r["page_url"] for r in removed} == {
        base + "/products/recognize/",
        base + "/products/recognize/faqs/",
    }
    assert all(r["changed_at"] > "2025" and "[police]" in r["removed"] for r in removed)
    added = query(data, "/spyglass/search_changes.json", {"q": "police", "side": "added"})
    assert {(r["page_url"], r["changed_at"][:4]) for r in added} == {
        (base + "/products/recognize/faqs/", "2020"),
        (base + "/products/recognize/", "2020"),
    }
    # The table's own search by column is the same question.
    table = query(data, "/spyglass/changes.json", {"_search_removed": "police"})
    assert [r["id"] for r in table] == [r["change_id"] for r in removed]
