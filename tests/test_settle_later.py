"""A run leaves its hosts' boilerplate to be found after it reports; settling it later gives what settling at once did."""

from __future__ import annotations

from pathlib import Path

from archive.config import Config
from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.history.later import pending, settle_archive, settle_lock
from archive.index.captures import save_captures
from archive.index.db import open_db, writing
from tests.test_history_work import capture

FOOTER = "Subscribe to our newsletter for product news."


def _crawl(path: Path, later: bool) -> None:
    """Ten pages with one footer sentence on each, indexed as a writer does, ended as a run ends."""
    db = open_db(path)
    db.table("sources").insert({"name": "s", "kind": "vendor"}, replace=True)
    history = HistoryWriter(db, Rules())
    rows = [capture(p, 0, f"Page {p} sells cameras to police.\n{FOOTER}") for p in range(10)]
    with writing(db):
        history.add(save_captures(db, rows))
    with writing(db):
        if later:
            assert history.defer(7) == 1
        else:
            history.settle()
    db.close()


def _history(path: Path) -> dict:
    db = open_db(path)
    try:
        return {
            "boilerplate": [r[0] for r in db.execute("SELECT sentence FROM boilerplate")],
            "keys": db.execute("SELECT capture_id, content_key FROM page_sightings ORDER BY 1").fetchall(),
            "pending": pending(db),
        }
    finally:
        db.close()


def test_a_run_leaves_its_hosts_pending_and_status_says_so(tmp_path: Path):
    _crawl(tmp_path / "spyglass.db", later=True)
    found = _history(tmp_path / "spyglass.db")
    assert found["boilerplate"] == []
    assert found["pending"].hosts == 1 and found["pending"].runs == [7]
    assert "1 host(s) still being found again after run(s) 7" in found["pending"].line()


def test_settling_later_gives_what_settling_at_once_gave(tmp_path: Path):
    (tmp_path / "now").mkdir()
    _crawl(tmp_path / "now" / "spyglass.db", later=False)
    _crawl(tmp_path / "spyglass.db", later=True)
    assert settle_archive(Config(data_dir=tmp_path)) == 1
    later, now = _history(tmp_path / "spyglass.db"), _history(tmp_path / "now" / "spyglass.db")
    assert later["boilerplate"] == now["boilerplate"] == [FOOTER]
    assert later["keys"] == now["keys"]
    assert later["pending"].hosts == 0 and later["pending"].line() == ""


def test_a_second_settler_leaves_the_work_to_the_one_holding_the_lock(tmp_path: Path):
    _crawl(tmp_path / "spyglass.db", later=True)
    lock = settle_lock(tmp_path).acquire()
    try:
        assert settle_archive(Config(data_dir=tmp_path)) == 0
    finally:
        lock.release()
    assert _history(tmp_path / "spyglass.db")["pending"].hosts == 1
