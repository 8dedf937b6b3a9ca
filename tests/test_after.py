"""What follows a crawl (archive/crawl/after.py): the passes' order, a stopped crawl, a failing pass."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from archive.archive import Archive
from archive.config import Config
from archive.crawl.after import PASSES, Plan, crawl_and_follow
from archive.crawl.runner import Crawled, RunReport
from archive.errors import TimestampError
from archive.index.db import open_index


def _engine(reason: str, released: list[str]):
    """An engine that 'runs' one run ending with `reason`, holding a lock until the passes end."""

    def engine(config, overrides, runs, held: ExitStack) -> Crawled:
        held.callback(released.append, "lock")
        report = RunReport(
            "site", None, "finished", reason, 3, 2, 1, 0, 100, 1.0, spider="vendor", name="site"
        )
        return Crawled([report], [])

    return engine


def _follow(tmp_path: Path, reason: str, **settings) -> tuple:
    config = Config(data_dir=tmp_path, **settings)
    open_index(Archive.from_config(config)).close()
    released: list[str] = []
    result = crawl_and_follow(config, Plan([], [], tmp_path), {}, {}, engine=_engine(reason, released))
    return result, released


def test_the_passes_run_in_their_one_order_and_the_engines_locks_outlast_them(tmp_path: Path):
    result, released = _follow(tmp_path, "finished")
    assert result.passes == [step.name for step in PASSES]
    assert result.passes == [
        "save-page-now",
        "browser",
        "screenshots",
        "script-shells",
        "schedules",
        "history",
        "documents",
        "alerts",
        "time-stamps",
    ]
    assert released == ["lock"]
    assert result.ok and result.error is None
    lines = result.lines()
    assert lines[0][0].startswith("\nCrawled 1 source(s) in ")
    assert ("  " + result.reports[0].line(), False) in lines


def test_a_crawl_stopped_by_a_signal_runs_only_the_passes_of_its_runs(tmp_path: Path):
    result, _ = _follow(tmp_path, "shutdown", timestamp_after_crawl=True)
    assert result.passes == [step.name for step in PASSES if step.of_runs]
    assert not result.ok and result.stamped is None
    assert result.lines()[-1] == (
        "Stopped by a signal: the interrupted runs continue at the next crawl.",
        True,
    )


def test_a_failing_pass_stops_the_passes_after_it_and_the_summary_still_shows(tmp_path: Path):
    result, released = _follow(tmp_path, "finished", timestamp_after_crawl=True, tsa_url="")
    assert isinstance(result.error, TimestampError)
    assert "time-stamps" not in result.passes and result.passes[-1] == "alerts"
    assert released == ["lock"]
    assert not result.ok
    assert result.lines()[0][0].startswith("\nCrawled 1 source(s)")
