"""History is incremental: a new capture computes its own change, not a rescan (the work is counted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.index.captures import save_captures
from archive.index.db import open_db, writing

PAGES, CAPTURES_PER_PAGE = 150, 12


def capture(page: int, n: int, text: str, *, memento: str | None = None) -> dict:
    """A live capture of page `page` on day `n` (or a Wayback memento of it at `memento`)."""
    url = f"https://vendor.example/p/{page}/"
    row = {
        "url": url,
        "source": "s",
        "via": "live",
        "status": 200,
        "content_type": "text/html",
        "captured_at": f"2026-{1 + n // 28:02d}-{1 + n % 28:02d}T00:00:{page % 60:02d}.000000Z",
        "sha256": f"{hash((page, text)) & (2**64 - 1):064x}",
        "warc_filename": "f.warc.gz",
        "warc_offset": page * 1000 + n,
        "warc_record_id": f"<urn:uuid:{page}-{n}-{memento}>",
        "warc_type": "response",
        "title": f"Page {page}",
        "text": text,
    }
    if memento:
        row.update(
            via="wayback",
            url=f"https://web.archive.org/web/{memento}id_/{url}",
            original_url=url,
            memento_at=f"{memento[:4]}-{memento[4:6]}-{memento[6:8]}T00:00:00.000000Z",
            wayback_timestamp=memento,
            captured_at="2026-12-31T00:00:00.000000Z",
        )
    return row


def text(page: int, version: int) -> str:
    return f"Page {page} sells cameras.\nThis is wording number {version} of page {page}."


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """150 pages, 12 captures each, a new wording every third capture: 1,800 captures, 600 changes."""
    path = tmp_path_factory.mktemp("work") / "spyglass.db"
    db = open_db(path)
    db.table("sources").insert({"name": "s", "kind": "vendor"})
    history = HistoryWriter(db, Rules())
    for n in range(CAPTURES_PER_PAGE):
        with writing(db):
            history.add(save_captures(db, [capture(p, n, text(p, n // 3)) for p in range(PAGES)]))
    assert history.work.diffs == PAGES * (CAPTURES_PER_PAGE // 3 - 1)
    db.close()
    return path


def _add(path: Path, *rows: dict):
    db = open_db(path)
    history = HistoryWriter(db, Rules())
    with writing(db):
        history.add(save_captures(db, list(rows)))
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("versions", "changes")}
    db.close()
    return history.work, counts


def test_one_new_capture_computes_one_change(archive: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "spyglass.db"
    shutil.copy(archive, copy)
    work, counts = _add(
        copy, capture(7, CAPTURES_PER_PAGE, "Page 7 sells cameras.\nNow with person tracking.")
    )
    assert (work.sightings_added, work.sightings_read, work.pages_regrouped, work.diffs) == (1, 1, 0, 1)
    assert counts == {"versions": PAGES * 4 + 1, "changes": PAGES * 3 + 1}
    # The same page seen again unchanged: its version grows, nothing is diffed.
    work, counts = _add(
        copy, capture(7, CAPTURES_PER_PAGE + 1, "Page 7 sells cameras.\nNow with person tracking.")
    )
    assert (work.sightings_read, work.diffs) == (1, 0)
    assert counts == {"versions": PAGES * 4 + 1, "changes": PAGES * 3 + 1}


def test_a_memento_arriving_out_of_order_regroups_only_its_page(archive: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "spyglass.db"
    shutil.copy(archive, copy)
    # Page 3's history already runs Jan.-Jan. 2026; a 2018 memento with other text lands before it all.
    work, counts = _add(copy, capture(3, 0, "Page 3 in 2018.", memento="20180301000000"))
    assert (work.pages_regrouped, work.sightings_read, work.diffs) == (1, 1 + CAPTURES_PER_PAGE + 1, 1)
    assert counts == {"versions": PAGES * 4 + 1, "changes": PAGES * 3 + 1}
    # One inside a version's span, with other text, splits it: two new changes replace one.
    work, counts = _add(copy, {**capture(5, 1, "Page 5, briefly different.", memento="20260102120000")})
    assert (work.pages_regrouped, work.diffs) == (1, 2)
    assert counts == {"versions": PAGES * 4 + 3, "changes": PAGES * 3 + 3}
    db = open_db(copy)
    numbers = [
        r[0]
        for r in db.execute(
            "SELECT number FROM versions WHERE page_url = ? ORDER BY first_seen_at",
            ["https://vendor.example/p/5/"],
        )
    ]
    db.close()
    assert numbers == list(range(1, 7))


def test_an_observation_extends_the_version_it_confirms(archive: Path, tmp_path: Path):
    """The hook the operations work (304s, unchanged payloads) folds its observations in through."""
    import shutil

    copy = tmp_path / "spyglass.db"
    shutil.copy(archive, copy)
    db = open_db(copy)
    [(last_id, key)] = db.execute(
        "SELECT last_capture_id, page_key FROM versions WHERE page_url = ? ORDER BY number DESC LIMIT 1",
        ["https://vendor.example/p/9/"],
    ).fetchall()
    history = HistoryWriter(db, Rules())
    with writing(db):
        history.observe([(last_id, "2027-01-01T00:00:00.000000Z")])
    [(seen, capture_id)] = db.execute(
        "SELECT last_seen_at, last_capture_id FROM versions WHERE page_key = ? ORDER BY number DESC LIMIT 1",
        [key],
    ).fetchall()
    db.close()
    assert (seen, capture_id) == ("2027-01-01T00:00:00.000000Z", last_id)
    assert (history.work.sightings_read, history.work.diffs) == (1, 0)


def test_a_host_is_settled_again_only_when_its_boilerplate_could_differ(archive: Path, tmp_path: Path):
    """Finding a host's boilerplate reads every page's text; after a run that brought the host no
    text its pages lacked, with the same rules and every page read, the answer cannot differ."""
    import shutil

    copy = tmp_path / "spyglass.db"
    shutil.copy(archive, copy)
    day = iter(range(CAPTURES_PER_PAGE, 100))

    def run(rows: list[dict], rules: Rules = Rules()) -> int:
        db = open_db(copy)
        history = HistoryWriter(db, rules)
        with writing(db):
            history.add(save_captures(db, rows))
            history.settle()
        db.close()
        return history.work.hosts_settled

    def unchanged() -> list[dict]:
        n = next(day)
        return [capture(p, n, text(p, CAPTURES_PER_PAGE // 3 - 1)) for p in range(5)]

    assert run(unchanged()) == 1  # never settled before
    assert run(unchanged()) == 0  # nothing new: skipped
    assert run([capture(1, next(day), text(2, 0))]) == 1  # page 1 gets a text only page 2 had
    assert run(unchanged()) == 0
    assert run(unchanged(), Rules(boilerplate_share=0.4)) == 1  # other rules
    assert run(unchanged(), Rules(boilerplate_share=0.4)) == 0
    # More pages than are read: which pages are read moves with every sighting.
    assert run(unchanged(), Rules(boilerplate_share=0.4, boilerplate_sample_pages=100)) == 1
    assert run(unchanged(), Rules(boilerplate_share=0.4, boilerplate_sample_pages=100)) == 1
