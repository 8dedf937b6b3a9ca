"""`spyglass run-due`, `spyglass status` and `spyglass schedule`: crawls that run unattended."""

from __future__ import annotations

import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, redis_option, set_option, sources_option
from archive.cli.report import crawl_and_print
from archive.config import Config
from archive.errors import ConfigError
from archive.index.db import open_existing, open_index, writing
from archive.locks import Busy, run_due_lock
from archive.notify.store import Backlog, backlog
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


def _statuses(config: Config, sources: list[Source], now: datetime) -> list[JobStatus]:
    index = open_index(Archive.from_config(config))
    try:
        with writing(index):
            return job_statuses(
                index, config.data_dir, sources, now, config.schedule_grace, config.schedule_retry
            )
    finally:
        index.close()


@click.command("run-due")
@sources_option
@data_option
@now_option
@click.option("--dry-run", is_flag=True, help="Say what is due and exit without crawling.")
@set_option
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log at INFO level.")
@redis_option
def run_due(
    sources_file: Path | None,
    data_dir: Path | None,
    now: str | None,
    dry_run: bool,
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
    clock = _clock(now)
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
        ok = _run_due(config, scrapy, clock, dry_run, verbose)
    finally:
        lock.release()
    if not ok:
        sys.exit(1)


def _run_due(config: Config, scrapy: dict[str, str], clock: datetime, dry_run: bool, verbose: bool) -> bool:
    sources = _sources(config)
    statuses = _statuses(config, sources, clock)
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
    ok = crawl_and_print(
        config,
        scrapy,
        os.environ,
        runs=[(job.source, job.spider) for job in due],
        clock=clock,
        verbose=verbose,
    )
    for status in _statuses(config, sources, clock):
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


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@click.command()
@sources_option
@data_option
@now_option
def status(sources_file: Path | None, data_dir: Path | None, now: str | None) -> None:
    """Each source's last run, outcome, counts and next due time, and the alerts not sent yet.

    Flags every source that is overdue or whose last run failed, and alerts
    waiting longer than a day, and then exits 1, so monitoring can alert on it. The same table is the Datasette
    page /spyglass/source_status. Example: spyglass status --data data
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    open_existing(Archive.from_config(config)).close()
    clock = _clock(now)
    statuses = _statuses(config, _sources(config, crawlable=False), clock)
    click.echo(f"{'source':<40} {'every':<10} {'last run':<44} {'next due':<21} state")
    for s in statuses:
        click.echo(
            f"{s.job.label:<40} {s.job.every.text:<10} {_last(s.last_run):<44} "
            f"{_when(s.next_due):<21} {s.state.upper() if s.flagged else s.state}"
        )
    alerts = _alert_backlog(config, clock)
    if alerts.pending:
        click.echo(alerts.line(), err=bool(alerts.overdue))
    flagged = [s for s in statuses if s.flagged]
    if flagged:
        click.echo(
            f"\n{len(flagged)} need attention: " + "; ".join(f"{s.job.label} is {s.state}" for s in flagged),
            err=True,
        )
    if flagged or alerts.overdue:
        sys.exit(1)


def _alert_backlog(config: Config, clock: datetime) -> Backlog:
    index = open_existing(Archive.from_config(config))
    try:
        return backlog(index, clock, config.notify_overdue)
    finally:
        index.close()


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
def schedule(sources_file: Path | None, data_dir: Path | None, minutes: int) -> None:
    """Print a cron line, and a systemd service + timer pair, that run `run-due` for this install.

    Example: spyglass schedule --data /srv/spyglass/data > spyglass-schedule.txt
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    if not config.sources_file.exists():
        raise ConfigError(f"{config.sources_file}: no such file")
    click.echo(schedule_text(config, minutes))


def schedule_text(config: Config, minutes: int) -> str:
    """The cron line and systemd units, with absolute paths to this install and data directory."""
    workdir = Path.cwd().resolve()
    data = config.data_dir.resolve()
    command = [*_spyglass(), "run-due", "--sources", str(config.sources_file.resolve()), "--data", str(data)]
    line = shlex.join(command)
    log = data / "run-due.log"
    return f"""\
# cron (crontab -e): every {minutes} minutes; run-due's own lock keeps runs from overlapping.
*/{minutes} * * * * cd {shlex.quote(str(workdir))} && {line} >> {shlex.quote(str(log))} 2>&1

# systemd: save the two units below as /etc/systemd/system/spyglass-run-due.service and
# .timer (or under ~/.config/systemd/user/ with --user), then:
#   systemctl daemon-reload && systemctl enable --now spyglass-run-due.timer
# Values for ${{VAR}} placeholders in the sources file go in Environment= lines.

# --- spyglass-run-due.service ---
[Unit]
Description=Spyglass: crawl the sources that are due
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={workdir}
ExecStart={line}
# SIGTERM stops a crawl cleanly: its runs are marked interrupted and resumed next time.
KillSignal=SIGTERM
TimeoutStopSec=300
Nice=10

# --- spyglass-run-due.timer ---
[Unit]
Description=Run spyglass-run-due.service every {minutes} minutes

[Timer]
OnCalendar=*:0/{minutes}
Persistent=true
RandomizedDelaySec=30

[Install]
WantedBy=timers.target
"""


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
