"""Build Spyglass's wheel, install it (not editable) in a fresh virtual environment outside the
checkout, and use it from an empty directory there as a user would: init, the demo, the served
site (front page, a capture page, a page's timeline) and a plain `datasette` with the packaged
metadata. Exits non-zero with the step that failed. CI runs it (.ci/run); stdlib only.

Usage: python scripts/try_wheel.py [--keep]   (--keep leaves the temporary directory and says where)
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
FRONT_PAGE_MARK = 'class="spyglass-search"'  # the reporter's search box (datasette/templates/index.html)


def run(*command: str | Path, cwd: Path, timeout: float = 600) -> str:
    """Run a command; its output on success, or exit naming it with what it printed."""
    shown = " ".join(str(part) for part in command)
    print(f"try-wheel: {shown}", flush=True)
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        sys.exit(
            f"try-wheel: failed ({done.returncode}): {shown}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def clean_copy(dest: Path) -> Path:
    """The checkout's tracked (and new, unignored) files, links kept: what a clean clone builds from."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, map(os.fsdecode, listed)):
        path, copy = ROOT / name, dest / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            copy.symlink_to(os.readlink(path))
        elif path.exists():  # a file deleted but not yet committed is still listed
            shutil.copy2(path, copy)
    return dest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(command: list[str | Path], cwd: Path, port: int):
    """A server started from `cwd`, stopped on leaving; fails with its log if its port never opens."""
    log = (cwd / f"server-{port}.log").open("w+")
    proc = subprocess.Popen([str(part) for part in command], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    sys.exit(
                        f"try-wheel: server did not start: {' '.join(map(str, command))}\n{log.read()[-3000:]}"
                    )
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def get(url: str, must_contain: str = "") -> None:
    """GET a page: 200 and (if given) holding `must_contain`, or exit saying which page failed."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            status, body = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        status, body = err.code, ""
    if status != 200 or must_contain not in body:
        sys.exit(
            f"try-wheel: {url} answered {status}" + (f" without {must_contain!r}" if status == 200 else "")
        )
    print(f"try-wheel: 200 {url}", flush=True)


def check_site(base: str, data: Path) -> None:
    """The front page with its search box, a capture page and a page's timeline answer 200."""
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        capture, page = conn.execute(
            "SELECT id, page_url FROM captures WHERE page_url LIKE '%/products/recognize/' ORDER BY id LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    get(f"{base}/", FRONT_PAGE_MARK)
    get(f"{base}/spyglass/captures/{capture}")
    get(f"{base}/-/spyglass/timeline?url={quote(page, safe='')}")


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    work = Path(tempfile.mkdtemp(prefix="spyglass-wheel-"))
    try:
        source = clean_copy(work / "src")
        run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist", source, cwd=work)
        (wheel,) = (work / "dist").glob("spyglass-*.whl")
        run(sys.executable, "-m", "venv", work / "venv", cwd=work)
        bin_dir = work / "venv" / "bin"
        run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
        home = work / "elsewhere"  # an empty directory: nothing of the checkout in reach
        home.mkdir()
        print(run(bin_dir / "spyglass", "--version", cwd=home).strip())
        run(bin_dir / "spyglass", "init", "archivist", cwd=home)
        run(bin_dir / "spyglass", "status", cwd=home / "archivist")
        run(bin_dir / "spyglass", "demo", "--no-serve", "--fixture-port", "0", cwd=home)
        port = free_port()
        with serving([bin_dir / "spyglass", "serve", "--port", str(port)], home, port) as base:
            check_site(base, home / "data")
        metadata = run(bin_dir / "python", "-m", "spyglass_datasette", cwd=home).strip()
        port = free_port()
        plain = [bin_dir / "datasette", "data/spyglass.db", "-m", metadata, "--port", str(port)]
        with serving(plain, home, port) as base:
            get(f"{base}/", FRONT_PAGE_MARK)
        print("try-wheel: the installed wheel demos and serves from an empty directory", flush=True)
    finally:
        if keep:
            print(f"try-wheel: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
