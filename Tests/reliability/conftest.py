"""Fixtures of the reliability suite: the conformance harness's, plus `start_bridge` (any binary, any
wrapper such as `ulimit -n 64`), and the figures printed at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

import reliability_harness as rh

harness = rh.harness
set_hypothesis_home_dir(rh.REPO / ".build" / "hypothesis")  # its caches, out of the work tree

# The conformance fixtures and its stdout-violation hook, as they are. Every public name of that
# conftest is re-exported too, so that its test modules (`from conftest import ...`) still work when
# both suites run in one pytest session and this conftest was the last one imported.
globals().update({k: v for k, v in vars(harness).items() if not k.startswith("__") and k not in globals()})
bridge_bin = harness.bridge_bin
base_args = harness.base_args
make_bridge = harness.make_bridge
bridge = harness.bridge
pytest_runtest_call = harness.pytest_runtest_call


def _require_binary(path: str) -> None:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        reason = f"sandbox-rpc binary not found at {path}: build it (swift build) or set SANDBOX_RPC_BIN"
        if rh.IN_CI:
            pytest.fail(reason + " (CI=true: a missing binary is a failure)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def start_bridge(make_bridge, bridge_bin, base_args, tmp_path):
    """start(*args, binary=None, env=None, shell_prefix=None) -> Bridge.

    `binary` defaults to $SANDBOX_RPC_BIN (the debug build); `shell_prefix` is shell text run before the
    bridge is exec'd (e.g. "ulimit -n 64"), so the bridge's pid is still the Bridge's pid. Each bridge
    gets --isolation none and a fresh --root, is validated like every conformance bridge, and is
    stopped after the test."""
    made: list = []
    roots: list[str] = []

    def start(*args: str, binary: str | None = None, env: dict | None = None, shell_prefix: str | None = None,
              base: bool = True):
        binary = binary or bridge_bin
        _require_binary(binary)
        extra = list(base_args) if base else []
        if base and "--root" in harness._help_text(binary):
            root = tempfile.mkdtemp(prefix="sandbox-rpc-reliability-")
            os.chmod(root, 0o755)
            roots.append(root)
            extra += ["--root", root]
        argv = [binary, *extra, *args]
        if shell_prefix:
            b = rh.Bridge("/bin/sh", ["-c", f'{shell_prefix} && exec "$0" "$@"', *argv], env=env, workdir=str(tmp_path))
        else:
            b = rh.Bridge(binary, [*extra, *args], env=env, workdir=str(tmp_path))
        made.append(b)
        harness._CURRENT.append(b)
        return b

    yield start
    late = []
    for b in made:
        before = len(b.violations)
        b.stop()
        late += b.violations[before:]
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    if late:
        pytest.fail("stdout violations found while the bridge shut down:\n" + "\n".join(late[:30]), pytrace=False)


@pytest.fixture
def raw_bridge(bridge_bin, base_args, tmp_path):
    """start(*args) -> RawBridge: the binary with --isolation none and a fresh --root, driven through
    its bare pipes (no reader thread); killed after the test if still running."""
    made: list = []
    roots: list[str] = []

    def start(*args: str, env: dict | None = None):
        extra = list(base_args)
        if "--root" in harness._help_text(bridge_bin):
            root = tempfile.mkdtemp(prefix="sandbox-rpc-reliability-")
            roots.append(root)
            extra += ["--root", root]
        env = dict(os.environ if env is None else env)
        env[rh.SECRET_NAME] = rh.SECRET_VALUE
        b = rh.RawBridge([bridge_bin, *extra, *args], env=env, cwd=str(tmp_path))
        made.append(b)
        return b

    yield start
    for b in made:
        b.kill()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def load_bin() -> str:
    """The binary for load tests (the release build when it is current; see reliability_harness)."""
    path = rh.load_binary()
    _require_binary(path)
    return path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    f = rh.figures
    if not (f.fuzz_cases or f.faults_injected or f.load or f.leak_checks):
        return
    terminalreporter.section("sandbox-rpc reliability figures")
    for line in f.summary_lines():
        terminalreporter.write_line(line)
    f.write()
