"""The network namespace the tests of non-public addresses run in (tests/netns.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.netns import namespace_command


def test_the_namespace_command_leaves_only_loopback_up():
    probe = "import socket; print([n for _, n in socket.if_nameindex()])"
    result = subprocess.run(
        namespace_command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['lo']"
