"""Schedules that run anywhere: the cron line and systemd units that call `run-due`, and installing them.

Both forms must survive a fresh server: cron's shell starts with no PATH and
no data directory, and both cron (`%` is a newline there) and systemd (`%` is
a specifier, `$` a variable, `\\` an escape) rewrite characters a path may hold.
Each form is quoted for its own reader here, once. Installing edits the
user's crontab (or a crontab file: tests and images) or writes the unit pair
into a systemd unit directory; each entry is keyed by its data directory, so
one install can schedule several archives and remove one of them.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ConfigError

CRON_MARK = "# spyglass run-due for "
UNIT_PREFIX = "spyglass-run-due-"


@dataclass(frozen=True)
class Plan:
    """What a schedule runs: `run-due` of one data directory, from one working directory, every N minutes."""

    command: tuple[str, ...]  # the run-due command line, absolute paths
    data: Path
    workdir: Path
    minutes: int

    def __post_init__(self) -> None:
        for text in (*self.command, str(self.workdir)):
            if "\n" in text or "\r" in text:
                raise ConfigError(f"{text!r}: a path with a line break cannot be scheduled")

    @property
    def log(self) -> Path:
        return self.data / "run-due.log"

    @property
    def unit(self) -> str:
        """The systemd unit name (without suffix): one per data directory."""
        return UNIT_PREFIX + hashlib.sha256(str(self.data).encode()).hexdigest()[:8]


def cron_escape(line: str) -> str:
    """A shell command as a crontab command field: cron turns an unescaped `%` into a newline."""
    return line.replace("%", "\\%")


def cron_line(plan: Plan) -> str:
    """The crontab entry: makes the data directory, then logs everything run-due says into it."""
    data, log = shlex.quote(str(plan.data)), shlex.quote(str(plan.log))
    command = f"cd {shlex.quote(str(plan.workdir))} && {shlex.join(plan.command)}"
    # The redirection needs the directory before run-due can make it: mkdir first,
    # and a failing cd is logged too (cron mails what mkdir says, if it fails).
    shell = f"mkdir -p {data} && {{ {command}; }} >> {log} 2>&1"
    return f"*/{plan.minutes} * * * * {cron_escape(shell)}"


def systemd_word(text: str) -> str:
    """One ExecStart= argument, double-quoted: `\\` and `"` escaped, `%` and `$` doubled."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_units(plan: Plan) -> dict[str, str]:
    """The service and timer, by file name. The journal keeps the log; run-due makes the data directory."""
    service = f"""\
[Unit]
Description=Spyglass: crawl the sources that are due ({plan.data})
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={str(plan.workdir).replace("%", "%%")}
ExecStart={" ".join(systemd_word(word) for word in plan.command)}
# SIGTERM stops a crawl cleanly: its runs are marked interrupted and resumed next time;
# a second SIGTERM (or SIGKILL after the timeout) stops it at once.
KillSignal=SIGTERM
TimeoutStopSec=300
Nice=10
"""
    timer = f"""\
[Unit]
Description=Run {plan.unit}.service every {plan.minutes} minutes

[Timer]
OnCalendar=*:0/{plan.minutes}
Persistent=true
RandomizedDelaySec=30

[Install]
WantedBy=timers.target
"""
    return {f"{plan.unit}.service": service, f"{plan.unit}.timer": timer}


def schedule_text(plan: Plan) -> str:
    """What `spyglass schedule` prints: the cron line and the two units, with how to install each."""
    units = systemd_units(plan)
    parts = [
        f"# cron (crontab -e, or spyglass schedule --install): every {plan.minutes} minutes;"
        " run-due's own lock keeps runs from overlapping.",
        CRON_MARK + str(plan.data),
        cron_line(plan),
        "",
        "# systemd (or spyglass schedule --install --via systemd): save the two units below under",
        "# ~/.config/systemd/user/ (or /etc/systemd/system/ without --user), then:",
        f"#   systemctl --user daemon-reload && systemctl --user enable --now {plan.unit}.timer",
        "# Values for ${VAR} placeholders in the sources file go in Environment= lines.",
    ]
    for name, text in units.items():
        parts += ["", f"# --- {name} ---", text.rstrip("\n")]
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class CronTab:
    """The crontab entries are kept in: a file, or (path None) the user's, through the crontab command."""

    path: Path | None = None

    def read(self) -> str:
        if self.path is not None:
            return self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
        # `crontab -l` fails with "no crontab for USER" when there is none yet.
        return listed.stdout if listed.returncode == 0 else ""

    def write(self, text: str) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(text, encoding="utf-8")
            return
        written = subprocess.run(["crontab", "-"], input=text, capture_output=True, text=True)
        if written.returncode != 0:
            raise ConfigError(f"crontab: {written.stderr.strip() or 'cannot install the crontab'}")

    def describe(self) -> str:
        return str(self.path) if self.path is not None else "your crontab"


def _without(lines: list[str], data: Path) -> tuple[list[str], bool]:
    """The crontab lines without the entry (marker line and the line after it) for `data`."""
    kept, found, skip = [], False, False
    for line in lines:
        if skip:
            skip = False
            continue
        if line == CRON_MARK + str(data):
            found = skip = True
            continue
        kept.append(line)
    return kept, found


def install_cron(tab: CronTab, plan: Plan) -> str:
    """Add (or replace) this data directory's entry in the crontab; what was done, in one line."""
    lines, replaced = _without(tab.read().splitlines(), plan.data)
    tab.write("\n".join([*lines, CRON_MARK + str(plan.data), cron_line(plan)]) + "\n")
    verb = "replaced" if replaced else "added"
    return f"{verb} the run-due entry for {plan.data} in {tab.describe()} (every {plan.minutes} minutes)"


def remove_cron(tab: CronTab, data: Path) -> str:
    """Take this data directory's entry out of the crontab; what was done, in one line."""
    lines, found = _without(tab.read().splitlines(), data)
    if not found:
        return f"no run-due entry for {data} in {tab.describe()}"
    tab.write("\n".join(lines) + "\n" if lines else "")
    return f"removed the run-due entry for {data} from {tab.describe()}"


def list_cron(tab: CronTab) -> list[str]:
    """Every Spyglass entry in the crontab: '<data dir>: <cron line>'."""
    lines = tab.read().splitlines()
    return [
        f"{line.removeprefix(CRON_MARK)}: {following}"
        for line, following in zip(lines, [*lines[1:], ""], strict=True)
        if line.startswith(CRON_MARK)
    ]


def install_systemd(unit_dir: Path, plan: Plan) -> list[Path]:
    """Write this data directory's service and timer into `unit_dir`; the files written."""
    unit_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in systemd_units(plan).items():
        (unit_dir / name).write_text(text, encoding="utf-8")
        written.append(unit_dir / name)
    return written


def remove_systemd(unit_dir: Path, data: Path) -> list[Path]:
    """Delete this data directory's service and timer from `unit_dir`; the files deleted."""
    unit = Plan((), data, data, 1).unit
    gone = []
    for suffix in (".service", ".timer"):
        path = unit_dir / f"{unit}{suffix}"
        if path.exists():
            path.unlink()
            gone.append(path)
    return gone


def list_systemd(unit_dir: Path) -> list[str]:
    """Every Spyglass timer in `unit_dir`: '<unit>: <its service's ExecStart>'."""
    found = []
    for timer in sorted(unit_dir.glob(f"{UNIT_PREFIX}*.timer")):
        service = timer.with_suffix(".service")
        text = service.read_text(encoding="utf-8") if service.exists() else ""
        execs = [
            line.removeprefix("ExecStart=") for line in text.splitlines() if line.startswith("ExecStart=")
        ]
        found.append(f"{timer.stem}: {execs[0] if execs else '(its .service is missing)'}")
    return found
