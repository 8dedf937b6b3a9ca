"""Tests that involve non-public addresses run inside a network namespace with only loopback up.

A module marked `pytestmark = pytest.mark.network_namespace` (the address guard,
the hostile site, which redirect to 169.254.169.254 and 10.x) is never run in
the test process: its selected tests are handed to one child pytest started
under `unshare --net` (with `--map-root-user` when not root), after `ip link
set lo up`. Inside, nothing but 127.0.0.0/8 exists, so a regression of the guard
fails its test and reaches nothing. The child refuses to run unless only
loopback is there; where unshare is not permitted the run fails loudly,
never falling back to the real network.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

MARK = "network_namespace"
INSIDE = "SPYGLASS_TEST_NETNS"
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600


def namespace_command(args: list[str]) -> list[str]:
    """`args` run in a new network namespace whose only interface, loopback, is up."""
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    script = 'ip link set lo up && exec "$@"'
    return [*unshare, "--", "sh", "-c", script, "sh", *args]


def only_loopback() -> str | None:
    """None when this process's network namespace holds loopback alone, else what else is there."""
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        return f"interfaces {names}, expected only lo"
    return None


def configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: run only inside a network namespace with loopback alone")
    if os.environ.get(INSIDE):
        problem = only_loopback()
        if problem:
            raise pytest.UsageError(f"{INSIDE} is set but this is no private network namespace: {problem}")


class NamespaceRun(pytest.Item):
    """One item standing for every selected test of the marked modules, run in the child."""

    def __init__(self, *, nodeids: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.nodeids = nodeids

    def runtest(self) -> None:
        for tool in ("unshare", "ip"):
            if shutil.which(tool) is None:
                raise NamespaceError(
                    f"`{tool}` is not installed (scripts/setup installs util-linux "
                    "and iproute2): the tests of non-public addresses cannot run"
                )
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *self.nodeids]
        command = namespace_command(args)
        try:
            result = subprocess.run(
                command,
                cwd=ROOT,
                env={**os.environ, INSIDE: "1"},
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise NamespaceError(f"the tests in the network namespace took over {TIMEOUT} s") from exc
        if result.returncode == 0:
            return
        started = "passed" in result.stdout or "failed" in result.stdout or "error" in result.stdout
        if not started:
            raise NamespaceError(
                f"could not start a network namespace ({shlex.join(command[:4])}...): "
                f"{(result.stderr or result.stdout).strip()[-800:]}\n"
                "These tests send requests toward non-public addresses and never run outside one: "
                "run as root, or allow unprivileged user namespaces (README, 'Tests')."
            )
        raise NamespaceError(
            f"tests in the network namespace failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001 - pytest's signature
        if isinstance(excinfo.value, NamespaceError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):  # noqa: ANN201 - pytest's signature
        return self.path, None, f"{len(self.nodeids)} test(s) in a network namespace"


class NamespaceError(Exception):
    """The namespace could not be made, or tests inside it failed."""


def collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Outside a namespace, swap the marked tests for one NamespaceRun of all of them."""
    if os.environ.get(INSIDE):
        return
    marked = [item for item in items if item.get_closest_marker(MARK)]
    if not marked:
        return
    kept = [item for item in items if not item.get_closest_marker(MARK)]
    module = marked[0].getparent(pytest.Module)
    run = NamespaceRun.from_parent(
        module, name="in_a_network_namespace", nodeids=[item.nodeid for item in marked]
    )
    items[:] = kept + [run]
