"""Helpers for the client's tests (a unique module name: other suites have their own conftest)."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, TypeVar

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parents[1]
if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))

from sandbox_rpc import Sandbox, SandboxException  # noqa: E402

BRIDGE = os.environ.get("SANDBOX_RPC_BIN") or str(REPO_ROOT / ".build" / "debug" / "sandbox-rpc")
IN_CI = os.environ.get("CI") == "true"
# A statically linked sandbox-rpc for docker sandboxes' containers (scripts/test sets it).
DOCKER_AGENT = os.environ.get("SANDBOX_RPC_DOCKER_AGENT")
DOCKER_IMAGE = "sandbox-rpc-base:latest"
BRIDGE_LABEL = "sandbox-rpc.bridge"

T = TypeVar("T")


def client_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-rpc-")]


def bridge_children() -> List[int]:
    """Pids of sandbox-rpc processes whose parent is this test process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        is_bridge = any(os.path.basename(arg) == b"sandbox-rpc" for arg in argv[:2])
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and is_bridge:
            found.append(int(entry))
    return found


def processes_with(marker: str) -> List[int]:
    """Pids whose command line contains `marker` (to find what a sandbox left running)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry))
    return found


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Polls `check` until it returns something truthy (or fails the test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: last value {value!r}")
        time.sleep(interval)


def get_host_supported(sandbox: Sandbox) -> bool:
    try:
        sandbox.get_host(1)
    except SandboxException as e:
        if e.kind in ("MethodNotFound", "Unsupported"):
            return False
        raise
    return True


def docker_unavailable(bridge: str, agent: Optional[str]) -> Optional[str]:
    """Why `bridge --docker-agent agent` cannot make docker sandboxes here, or None if it can."""
    if not agent:
        return "SANDBOX_RPC_DOCKER_AGENT is not set (a static sandbox-rpc, from scripts/build-release)"
    if not os.access(agent, os.X_OK):
        return f"SANDBOX_RPC_DOCKER_AGENT={agent} is not an executable file"
    # At info level the bridge says why docker is missing (no engine, or an agent that is not static).
    probe = subprocess.run(
        [bridge, "--docker-agent", agent, "--log-level", "info"],
        input=b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n',
        capture_output=True,
        timeout=60,
    )
    lines = probe.stdout.splitlines()
    if not lines:
        return f"{bridge} did not answer initialize: {probe.stderr.decode(errors='replace').strip()}"
    isolation = json.loads(lines[0]).get("result", {}).get("capabilities", {}).get("isolation", [])
    if "docker" in isolation:
        return None
    why = [line for line in probe.stderr.decode(errors="replace").splitlines() if "docker:" in line]
    return f"the bridge lists no docker in capabilities.isolation {isolation}: " + (
        "; ".join(why) or "no Docker Engine answers, or the agent is not statically linked"
    )


def containers_of_bridge(bridge_pid: int) -> Optional[List[str]]:
    """Ids of the containers (in any state) that the bridge with this pid made, or None without
    the docker CLI. Their label is "boot/pid/start"."""
    if shutil.which("docker") is None:
        return None
    listing = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={BRIDGE_LABEL}", "--format", f'{{{{.ID}}}} {{{{.Label "{BRIDGE_LABEL}"}}}}'],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    found = []
    for line in listing.splitlines():
        container, _, owner = line.partition(" ")
        parts = owner.split("/")
        if len(parts) == 3 and parts[1] == str(bridge_pid):
            found.append(container)
    return found
