"""`spyglass schedule`: a cron line and systemd units that run on a fresh server, and installing them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .conftest import run_cli

# A data directory that does not exist yet, under a path cron and systemd both rewrite.
ODD = "new 100% dir $HOME"


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / ODD
    home.mkdir()
    sources = home / "sources %d.yml"
    sources.write_text("sources: [{name: a, kind: vendor, urls: ['https://a.example/'], every: never}]\n")
    return sources, home / "data"


def _as_cron_runs(line: str) -> str:
    """The command cron hands to /bin/sh for this crontab line (crontab(5): an unescaped % ends it)."""
    field = line.split(None, 5)[5]
    assert re.search(r"(?<!\\)%", field) is None, field
    return field.replace("\\%", "%")


def test_the_cron_line_runs_under_an_empty_environment_on_a_fresh_data_directory(tmp_path: Path):
    sources, data = _setup(tmp_path)
    text = run_cli(
        "schedule", "--sources", str(sources), "--data", str(data), "--minutes", "10", check=True
    ).stdout
    [line] = [line for line in text.splitlines() if line.startswith("*/10 * * * * ")]
    assert not data.exists()
    ran = subprocess.run(
        ["env", "-i", "/bin/sh", "-c", _as_cron_runs(line)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = (data / "run-due.log").read_text()
    assert log.startswith("run-due: nothing due at "), log
    assert (data / "spyglass.db").exists()


def _systemd_words(value: str) -> list[str]:
    """ExecStart='s arguments as systemd reads them (systemd.service(5): quoting, C escapes, %% and $$)."""
    words, i = [], 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        assert value[i] == '"', value
        word, i = "", i + 1
        while value[i] != '"':
            if value[i] == "\\":
                word, i = word + value[i + 1], i + 2
            else:
                assert value[i] not in "%$" or value[i + 1] == value[i], value
                word, i = word + value[i], i + (2 if value[i] in "%$" else 1)
        words.append(word)
        i += 1
    return words


def test_the_systemd_units_pass_systemd_and_run_on_a_fresh_data_directory(tmp_path: Path):
    sources, data = _setup(tmp_path)
    units = tmp_path / "units"
    env = {"SPYGLASS_SCHEDULE_UNIT_DIR": str(units)}
    args = ("schedule", "--sources", str(sources), "--data", str(data), "--minutes", "10")
    installed = run_cli(*args, "--install", "--via", "systemd", env=env, check=True)
    [service] = units.glob("spyglass-run-due-*.service")
    [timer] = units.glob("spyglass-run-due-*.timer")
    assert f"systemctl --user enable --now {timer.name}" in installed.stdout
    text = service.read_text()
    assert "OnCalendar=*:0/10" in timer.read_text() and "Type=oneshot" in text
    if shutil.which("systemd-analyze"):
        checked = subprocess.run(
            ["systemd-analyze", "verify", str(service), str(timer)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
    [exec_start] = [
        line.removeprefix("ExecStart=") for line in text.splitlines() if line.startswith("ExecStart=")
    ]
    argv = _systemd_words(exec_start)
    assert argv[-4:] == ["--sources", str(sources), "--data", str(data)]
    [workdir] = [line.removeprefix("WorkingDirectory=") for line in text.splitlines() if "Directory=" in line]
    ran = subprocess.run(
        ["env", "-i", *argv], capture_output=True, text=True, timeout=120, cwd=workdir.replace("%%", "%")
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("run-due: nothing due at ")
    listed = run_cli(*args, "--list", "--via", "systemd", env=env, check=True).stdout
    assert listed.startswith(f"{timer.stem}: {exec_start}")
    removed = run_cli(*args, "--remove", "--via", "systemd", env=env, check=True).stdout
    assert removed.startswith("removed ") and not list(units.iterdir())


def test_install_remove_and_list_keep_the_rest_of_the_crontab(tmp_path: Path):
    sources, data = _setup(tmp_path)
    crontab = tmp_path / "cron" / "tab"
    crontab.parent.mkdir()
    crontab.write_text("MAILTO=archivist\n0 4 * * * backup.sh\n")
    env = {"SPYGLASS_SCHEDULE_CRONTAB": str(crontab)}
    args = ("schedule", "--sources", str(sources), "--data", str(data))
    assert run_cli(*args, "--list", env=env, check=True).stdout == "no Spyglass schedule installed\n"
    first = run_cli(*args, "--install", env=env, check=True)
    assert first.stdout.startswith(f"added the run-due entry for {data} in {crontab}")
    again = run_cli(*args, "--minutes", "15", "--install", env=env, check=True)
    assert again.stdout.startswith("replaced")
    lines = crontab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=archivist", "0 4 * * * backup.sh"]
    assert lines[2] == f"# spyglass run-due for {data}" and lines[3].startswith("*/15 * * * * mkdir -p ")
    assert len(lines) == 4
    ran = subprocess.run(
        ["env", "-i", "/bin/sh", "-c", _as_cron_runs(lines[3])], capture_output=True, timeout=120
    )
    assert ran.returncode == 0 and (data / "run-due.log").exists()
    listed = run_cli(*args, "--list", env=env, check=True).stdout
    assert listed == f"{data}: {lines[3]}\n"
    other = run_cli(
        "schedule", "--sources", str(sources), "--data", str(tmp_path / "other"), "--install", env=env
    )
    assert other.returncode == 0
    removed = run_cli(*args, "--remove", env=env, check=True)
    assert removed.stdout.startswith(f"removed the run-due entry for {data}")
    kept = crontab.read_text().splitlines()
    assert (
        kept[:2] == lines[:2] and kept[2] == f"# spyglass run-due for {tmp_path / 'other'}" and len(kept) == 4
    )
    assert "no run-due entry" in run_cli(*args, "--remove", env=env, check=True).stdout
