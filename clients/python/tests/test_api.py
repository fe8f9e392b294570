"""The package's surface without a bridge: names, signatures, the error table, small helpers."""

import inspect
import os
import stat
from pathlib import Path

import pytest

import sandbox_rpc
from sandbox_rpc import (
    AsyncSandbox,
    CommandExitException,
    CommandResult,
    FileNotFoundException,
    InvalidArgumentException,
    NotFoundException,
    Sandbox,
    SandboxException,
    Stderr,
    Stdout,
    TimeoutException,
)
from sandbox_rpc._bridge import checkout_bridge, find_bridge
from sandbox_rpc._common import Utf8Joiner
from sandbox_rpc.exceptions import exception_from_error
from sandbox_rpc.models import entry_info
from sandbox_rpc.sandbox_async.commands import AsyncCommands
from sandbox_rpc.sandbox_sync.commands import Commands
from sandbox_rpc.sandbox_sync.filesystem import Filesystem
from sandbox_rpc.sandbox_sync.pty import Pty

ISSUE_EXPORTS = (
    "Sandbox AsyncSandbox CommandHandle AsyncCommandHandle CommandResult CommandExitException "
    "SandboxException TimeoutException NotFoundException FileNotFoundException "
    "InvalidArgumentException PtySize ProcessInfo FileType EntryInfo WriteInfo"
).split()


def test_exports() -> None:
    for name in ISSUE_EXPORTS:
        assert hasattr(sandbox_rpc, name), name
        assert name in sandbox_rpc.__all__
    assert issubclass(FileNotFoundException, NotFoundException)
    assert issubclass(CommandExitException, CommandResult) and issubclass(CommandExitException, SandboxException)
    assert (Path(sandbox_rpc.__file__).parent / "py.typed").is_file()


def params(fn: object) -> list:
    return [p for p in inspect.signature(fn).parameters if p != "self"]  # type: ignore[arg-type]


def test_run_signature_matches_e2b_positional_order() -> None:
    expected = ["cmd", "background", "envs", "user", "cwd", "on_stdout", "on_stderr", "stdin", "timeout", "request_timeout"]
    assert params(Commands.run) == expected
    assert params(AsyncCommands.run) == expected
    assert inspect.signature(Commands.run).parameters["timeout"].default == 60
    assert params(Commands.run_stream) == ["cmd", "on_stdout", "on_stderr", "envs", "user", "cwd", "timeout"]
    assert params(Commands.connect)[:2] == ["pid", "timeout"]
    assert params(Commands.kill)[0] == "pid"
    assert params(Pty.create)[:5] == ["size", "user", "cwd", "envs", "timeout"]
    assert params(Filesystem.read)[:2] == ["path", "format"]
    assert params(Filesystem.list)[:2] == ["path", "depth"]
    assert params(Sandbox.__init__)[:4] == ["template", "timeout", "metadata", "envs"]
    assert params(AsyncSandbox.create)[:4] == ["template", "timeout", "metadata", "envs"]
    assert inspect.iscoroutinefunction(AsyncSandbox.create)
    assert not inspect.iscoroutinefunction(AsyncSandbox.get_host)


@pytest.mark.parametrize(
    "kind, code, cls",
    [
        ("InvalidParams", -32602, InvalidArgumentException),
        ("SandboxNotFound", -32001, NotFoundException),
        ("ProcessNotFound", -32002, NotFoundException),
        ("Timeout", -32003, TimeoutException),
        ("PermissionDenied", -32004, SandboxException),
        ("FileNotFound", -32005, FileNotFoundException),
        ("NotADirectory", -32006, InvalidArgumentException),
        ("AlreadyExists", -32007, SandboxException),
        ("ProcessNotRunning", -32008, SandboxException),
        ("StdinClosed", -32009, SandboxException),
        ("LimitExceeded", -32010, SandboxException),
        ("Unsupported", -32011, SandboxException),
        ("SandboxKilled", -32012, TimeoutException),
        ("IsADirectory", -32013, InvalidArgumentException),
        ("RequestCancelled", -32800, TimeoutException),
        ("MethodNotFound", -32601, SandboxException),
        ("Internal", -32603, SandboxException),
    ],
)
def test_error_kinds_map_to_exceptions(kind: str, code: int, cls: type) -> None:
    e = exception_from_error({"code": code, "message": "m", "data": {"kind": kind, "x": 1}})
    assert type(e) is cls
    assert (e.code, e.kind, e.data) == (code, kind, {"kind": kind, "x": 1})


def test_malformed_error() -> None:
    assert type(exception_from_error("nope")) is SandboxException
    assert type(exception_from_error({"code": 1, "message": "m"})) is SandboxException


def test_command_result_fields() -> None:
    result = CommandResult("out", "err", 1, "exit status 1")
    assert (result.stdout, result.stderr, result.exit_code, result.error) == ("out", "err", 1, "exit status 1")
    assert CommandResult(stdout="o", stderr="", exit_code=0).error is None
    e = CommandExitException("o", "e", 2, "exit status 2")
    assert (e.stdout, e.stderr, e.exit_code, e.error) == ("o", "e", 2, "exit status 2")
    assert isinstance(e, CommandResult) and isinstance(e, Exception)


def test_stdout_models() -> None:
    chunk = Stdout("line\n", 12.5)
    assert chunk == "line\n" and chunk.line == "line\n" and chunk.timestamp == 12.5
    assert isinstance(chunk, str) and Stdout(line="x").timestamp is None
    assert isinstance(Stderr("e"), Stdout) and repr(Stderr("e", 1.0)) == "Stderr(line='e', timestamp=1.0)"


def test_utf8_joiner_never_splits_a_character() -> None:
    data = "a\u00e9\u20ac\U0001F600z".encode()
    for size in range(1, 6):
        joiner = Utf8Joiner()
        parts = [joiner.feed(data[i : i + size]) for i in range(0, len(data), size)] + [joiner.flush()]
        assert b"".join(parts) == data
        for part in parts:
            part.decode("utf-8")
    joiner = Utf8Joiner()
    assert joiner.feed(b"ok\xff") == b"ok\xff"  # not a lead byte: nothing held back
    assert joiner.feed(b"\xe2\x82") == b"" and joiner.flush() == b"\xe2\x82"


def test_entry_info_permissions() -> None:
    e = entry_info({"name": "f", "path": "/h/f", "type": "file", "size": 3, "mode": 0o644, "modifiedTime": 0.5})
    assert (e.permissions, e.mode, e.owner, e.group, e.symlink_target) == ("-rw-r--r--", 0o644, "", "", None)
    d = entry_info({"name": "d", "path": "/h/d", "type": "dir", "size": 0, "mode": 0o755, "modifiedTime": 0})
    assert d.permissions == "drwxr-xr-x" and d.modified_time.tzinfo is not None


def test_find_bridge_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = tmp_path / "bin" / "sandbox-rpc"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(on_path.stat().st_mode | stat.S_IXUSR)
    explicit = tmp_path / "explicit"
    explicit.write_text("#!/bin/sh\n")
    explicit.chmod(0o755)
    monkeypatch.setenv("SANDBOX_RPC_BIN", str(explicit))
    monkeypatch.setenv("PATH", str(on_path.parent) + os.pathsep + os.environ.get("PATH", ""))
    assert find_bridge() == str(explicit)
    monkeypatch.delenv("SANDBOX_RPC_BIN")
    assert find_bridge() == str(on_path)
    monkeypatch.setenv("SANDBOX_RPC_BIN", str(tmp_path / "missing"))
    with pytest.raises(SandboxException, match="SANDBOX_RPC_BIN"):
        find_bridge()


def test_checkout_bridge_prefers_release_then_debug(tmp_path: Path) -> None:
    (tmp_path / "Package.swift").write_text("")
    nested = tmp_path / "clients" / "python" / "sandbox_rpc"
    nested.mkdir(parents=True)
    assert checkout_bridge([nested]) is None
    binaries = {}
    for config in ("debug", "release"):
        binary = tmp_path / ".build" / config / "sandbox-rpc"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        binaries[config] = str(binary)
        assert checkout_bridge([nested]) == binaries[config]
