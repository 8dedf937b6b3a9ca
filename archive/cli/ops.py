"""`spyglass run-due`, `spyglass status` and `spyglass schedule`: crawls that run unattended."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from archive.archive import Archive
from archive.cli.options import command_config, data_option, redis_option, set_option, sources_option
from archive.config import Config
from archive.errors import ConfigError
from archive.index.db import open_db, open_existing, open_index, writing
from archive.locks import Busy, run_due_lock
from archive.notify.store import Backlog, backlog
from archive.ops.forever import Forever
from archive.ops.install import (
    CronTab,
    Plan,
    install_cron,
    install_systemd,
    list_cron,
    list_systemd,
    remove_cron,
    remove_systemd,
    schedule_text,
)
from archive.ops.schedule import JobStatus, due_jobs, job_statuses
from archive.sources.load import load_sources
from archive.sources.model import Source
from archive.times import parse_when, utc_now


def _clock(value: str | None) -> datetime:
    if value is None:
        return utc_now()
    try:
        return parse_when(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-12-01T06:00:00Z", param_hint="--now"
        ) from None


now_option = click.option(
    "--now",
    "now",
    default=None,
    metavar="TIME",
    help="Take this UTC time (ISO 8601) as now when deciding what is due (tests, dry runs). "
    "Captures always carry the real time.",
)


def _sources(config: Config, crawlable: bool = True) -> list[Source]:
    """Every source (with `crawlable`, those that can be crawled: one with an unset ${VAR} is
    reported and left out)."""
    usable = []
    for source in load_sources(config.sources_file, os.environ):
        if source.unresolved and crawlable:
            click.echo(f"run-due: skipped: {source.unresolved[0]}", err=True)
        else:
            usable.append(source)
    return usable


def _statuses(
    config: Config, sources: list[Source], now: datetime, pretended: bool = False, dry_run: bool = False
) -> list[JobStatus]:
    """Every job's status at `now`, saved in `schedules` (a dry run writes nothing, not even the index)."""
    archive = Archive.from_config(config)
    if dry_run:
        index = open_db(":memory:") if not archive.db_path.exists() else _read_only(archive.db_path)
    else:
        index = open_index(archive)
    try:
        with nullcontext() if dry_run else writing(index):
            return job_statuses(
                index,
                config.data_dir,
                sources,
                now,
                config.schedule_grace,
                config.schedule_retry,
                pretended=pretended,
                save=not dry_run,
            )
    finally:
        index.close()


def _read_only(path: Path) -> sqlite_utils.Database:
    """The index, opened so that nothing can be written to it."""
    return sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


@click.command("run-due")
@sources_option
@data_option
@now_option
@click.option("--dry-run", is_flag=True, help="Say what is due and exit without crawling.")
@click.option(
    "--forever",
    is_flag=True,
    help="Stay in the foreground: run what is due, sleep until the next due time "
    "(at most $SPYGLASS_SCHEDULE_CHECK seconds), again; for a container or a supervisor.",
)
@set_option
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log at INFO level.")
@redis_option
def run_due(
    sources_file: Path | None,
    data_dir: Path | None,
    now: str | None,
    dry_run: bool,
    forever: bool,
    overrides: tuple[str, ...],
    verbose: bool,
    redis_url: str | None,
) -> None:
    """Crawl every source (and Wayback harvest) whose time has come, and nothing else.

    Safe to call from cron or a systemd timer every few minutes: a lock keeps
    runs from overlapping (a second call says who holds it and exits 0), and a
    lock left by a dead process is taken over. Exits 1 if a run failed. With
    --redis, due vendor crawls are handed to `spyglass worker` processes.
    Example: spyglass run-due --sources sources.yml --data data
    """
    config, scrapy = command_config(
        overrides, data_dir=data_dir, sources_file=sources_file, redis_url=redis_url
    )
    if forever:
        if now or dry_run:
            raise click.UsageError("--forever runs by the real clock: drop --now and --dry-run")
        sys.exit(_forever(config, overrides, verbose))
    clock = _clock(now)
    if dry_run:
        # Says what is due and writes nothing: no lock file, no index, no schedules rows.
        _run_due(config, scrapy, clock, now is not None, dry_run, verbose)
        return
    lock = run_due_lock(config.data_dir)
    try:
        lock.acquire()
    except Busy as exc:
        holder = exc.holder.describe() if exc.holder else "holder unknown"
        click.echo(f"run-due: nothing to do: another run-due is running ({holder})")
        return
    try:
        if lock.taken_over is not None:
            click.echo(
                f"run-due: took over the lock left by {lock.taken_over.describe()}, "
                "which is no longer running",
                err=True,
            )
        ok = _run_due(config, scrapy, clock, now is not None, dry_run, verbose)
    finally:
        lock.release()
    if not ok:
        sys.exit(1)


def _run_due(
    config: Config, scrapy: dict[str, str], clock: datetime, pretended: bool, dry_run: bool, verbose: bool
) -> bool:
    sources = _sources(config)
    statuses = _statuses(config, sources, clock, pretended, dry_run)
    due = due_jobs(statuses, clock)
    if not due:
        dated = [s for s in statuses if s.next_due is not None]
        first = min(dated, key=lambda s: s.next_due or clock, default=None)
        after = f"; next: {first.job.label} at {_when(first.next_due)}" if first else ""
        click.echo(f"run-due: nothing due at {_when(clock)}{after}")
        if not dry_run:
            _send_alerts(config, sources)
        return True
    click.echo(f"run-due: due at {_when(clock)}: {', '.join(job.label for job in due)}")
    if dry_run:
        return True
    from archive.cli.report import crawl_and_print  # Scrapy and Twisted: only when crawling

    ok = crawl_and_print(
        config,
        scrapy,
        os.environ,
        runs=[(job.source, job.spider) for job in due],
        clock=clock if pretended else None,
        verbose=verbose,
    )
    for status in _statuses(config, sources, clock, pretended):
        if status.job in due:
            click.echo(f"  {status.job.label}: next due {_when(status.next_due)}")
    return ok


def _send_alerts(config: Config, sources: list[Source]) -> None:
    """With nothing to crawl, still look for events and send the alerts waiting (a target back up gets them)."""
    from archive.notify.run import notify_round, targets_of

    if not targets_of(sources):
        return
    done = notify_round(config, sources, utc_now())
    if not done.quiet:
        click.echo(f"run-due: {done.line()}")
    for answer in done.answers:
        click.echo(f"note: alert not sent to {answer}", err=True)


def _forever(config: Config, overrides: tuple[str, ...], verbose: bool) -> int:
    """run-due passes in child processes until a signal; sleeps until the next due time in between."""
    argv = [sys.executable, "-m", "archive.cli", "run-due", "--sources", str(config.sources_file)]
    argv += ["--data", str(config.data_dir), *[f"--set={pair}" for pair in overrides]]
    argv += ["--verbose"] * verbose + ([f"--redis={config.redis_url}"] if config.redis_url else [])

    def next_wait() -> float:
        clock = utc_now()
        dated = [s.next_due for s in _statuses(config, _sources(config), clock) if s.next_due is not None]
        until = (min(dated) - clock).total_seconds() if dated else config.schedule_check
        # Never a busy loop: a due job another process is crawling is looked at again later.
        return min(config.schedule_check, max(until, 10.0))

    return Forever(argv, next_wait, lambda line: click.echo(line, err=True)).run()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@click.command()
@sources_option
@data_option
@now_option
def status(sources_file: Path | None, data_dir: Path | None, now: str | None) -> None:
    """Each source's last run, outcome, counts and next due time, and the alerts not sent yet.

    A source whose latest pages look script-rendered (scripts, almost no text)
    is told so on its row, with the hint to use `render: browser`.

    Flags every source whose run is running too long, stuck (its process
    gone), interrupted twice in a row, failed, partial (a limit cut it short)
    or overdue, naming each one's log file, and alerts waiting longer than a
    day, and then exits 1, so monitoring can alert on it. The same table is the Datasette
    page /spyglass/source_status. Example: spyglass status --data data
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    open_existing(Archive.from_config(config)).close()
    clock = _clock(now)
    statuses = _statuses(config, _sources(config, crawlable=False), clock, pretended=now is not None)
    click.echo(f"{'source':<40} {'every':<10} {'last run':<44} {'next due':<21} state")
    for s in statuses:
        click.echo(
            f"{s.job.label:<40} {s.job.every.text:<10} {_last(s.last_run):<44} "
            f"{_when(s.next_due):<21} {s.state.upper() if s.flagged else s.state}{_shells(s)}"
        )
    settling = _history_pending(config)
    if settling:
        click.echo(settling)
    alerts = _alert_backlog(config, clock)
    if alerts.pending:
        click.echo(alerts.line(), err=bool(alerts.overdue))
    flagged = [s for s in statuses if s.flagged]
    if flagged:
        click.echo(
            f"\n{len(flagged)} need attention: " + "; ".join(_attention(config, s) for s in flagged),
            err=True,
        )
    if flagged or alerts.overdue:
        sys.exit(1)


def _history_pending(config: Config) -> str:
    """The line saying which hosts' history a finished run left to settle (archive/history/later.py)."""
    from archive.history.later import pending

    index = open_existing(Archive.from_config(config))
    try:
        return pending(index).line()
    finally:
        index.close()


def _alert_backlog(config: Config, clock: datetime) -> Backlog:
    index = open_existing(Archive.from_config(config))
    try:
        return backlog(index, clock, config.notify_overdue)
    finally:
        index.close()


def _attention(config: Config, status: JobStatus) -> str:
    """'<job> is <state>', with the last run's reason and log file when there are."""
    run = status.last_run or {}
    why = (
        f": {run['finish_reason']}"
        if status.state in ("failed", "partial") and run.get("finish_reason")
        else ""
    )
    log = f" (log: {config.data_dir / run['log_file']})" if run.get("log_file") else ""
    return f"{status.job.label} is {status.state}{why}{log}"


def _shells(status: JobStatus) -> str:
    """The hint for a source whose latest pages look script-rendered (archive/browser/notice.py)."""
    count = (status.last_run or {}).get("script_shells")
    if not count or status.job.source.render == "browser":
        return ""
    return f"  ({count} page(s) look script-rendered; consider `render: browser`)"


def _last(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never run"
    started = parse_when(run["started_at"]).strftime("%Y-%m-%d %H:%M")
    return (
        f"#{run['id']} {run['status']} {started}, {run['pages'] or 0}p "
        f"{run.get('observations') or 0}o {run['errors'] or 0}e"
    )


@click.command()
@sources_option
@data_option
@click.option(
    "--minutes",
    default=5,
    show_default=True,
    type=click.IntRange(1, 59),
    help="How often cron or the timer calls run-due.",
)
@click.option("--install", "action", flag_value="install", help="Install the schedule (see --via).")
@click.option("--remove", "action", flag_value="remove", help="Remove this data directory's schedule.")
@click.option("--list", "action", flag_value="list", help="List the Spyglass schedules installed.")
@click.option(
    "--via",
    type=click.Choice(["cron", "systemd"]),
    default="cron",
    show_default=True,
    help="What --install, --remove and --list manage: the crontab "
    "($SPYGLASS_SCHEDULE_CRONTAB) or systemd user units ($SPYGLASS_SCHEDULE_UNIT_DIR).",
)
def schedule(
    sources_file: Path | None, data_dir: Path | None, minutes: int, action: str | None, via: str
) -> None:
    """Print (or install) a cron line, and a systemd service + timer pair, that run `run-due` here.

    Printing is the default. --install adds the entry for this data directory
    to your crontab (or writes and enables a systemd user timer with --via
    systemd); --remove takes it out again; --list shows what is installed.
    Example: spyglass schedule --data /srv/spyglass/data --install
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    if action == "list":
        found = list_systemd(_unit_dir(config)) if via == "systemd" else list_cron(_crontab(config))
        click.echo("\n".join(found) if found else "no Spyglass schedule installed")
        return
    if action == "remove":
        if via == "cron":
            click.echo(remove_cron(_crontab(config), config.data_dir.resolve()))
            return
        gone = remove_systemd(_unit_dir(config), config.data_dir.resolve())
        if gone and not config.schedule_unit_dir:
            _systemctl("disable", "--now", gone[-1].name)
            _systemctl("daemon-reload")
        click.echo("removed " + ", ".join(map(str, gone)) if gone else "no run-due units to remove")
        return
    if not config.sources_file.exists():
        raise ConfigError(f"{config.sources_file}: no such file")
    plan = schedule_plan(config, minutes)
    if action is None:
        click.echo(schedule_text(plan), nl=False)
    elif via == "cron":
        click.echo(install_cron(_crontab(config), plan))
    else:
        written = install_systemd(_unit_dir(config), plan)
        click.echo("wrote " + ", ".join(map(str, written)))
        if config.schedule_unit_dir:
            click.echo(
                f"then: systemctl --user daemon-reload && systemctl --user enable --now {plan.unit}.timer"
            )
        else:
            _systemctl("daemon-reload")
            _systemctl("enable", "--now", f"{plan.unit}.timer")


def schedule_plan(config: Config, minutes: int) -> Plan:
    """run-due of this install and data directory, with absolute paths, every `minutes`."""
    data = config.data_dir.resolve()
    command = [*_spyglass(), "run-due", "--sources", str(config.sources_file.resolve()), "--data", str(data)]
    return Plan(tuple(command), data, Path.cwd().resolve(), minutes)


def _crontab(config: Config) -> CronTab:
    return CronTab(Path(config.schedule_crontab) if config.schedule_crontab else None)


def _unit_dir(config: Config) -> Path:
    if config.schedule_unit_dir:
        return Path(config.schedule_unit_dir)
    return Path.home() / ".config" / "systemd" / "user"


def _systemctl(*args: str) -> None:
    done = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"systemctl --user {' '.join(args)}: {done.stderr.strip()}")


def _spyglass() -> list[str]:
    """The command that runs this install's spyglass."""
    script = Path(sys.executable).parent / "spyglass"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "archive.cli"]


@click.command("scrapyd-egg")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("spyglass.egg"),
    show_default=True,
    help="Where to write the egg.",
)
def scrapyd_egg(out: Path) -> None:
    """Build an egg of the spiders to deploy to a Scrapyd server.

    Example: spyglass scrapyd-egg --out spyglass.egg &&
    curl http://127.0.0.1:6800/addversion.json -F project=spyglass -F version=1 -F egg=@spyglass.egg
    """
    from archive.ops.scrapyd import build_egg

    click.echo(f"Wrote {build_egg(out)}")
