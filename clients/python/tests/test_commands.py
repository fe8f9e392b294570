"""sandbox.commands (sync client) against the real bridge."""

import threading
import time
from typing import List

import pytest

from rpc_test_support import eventually
from sandbox_rpc import (
    CommandExitException,
    CommandHandle,
    CommandResult,
    FileNotFoundException,
    InvalidArgumentException,
    NotFoundException,
    ProcessInfo,
    Sandbox,
    SandboxException,
    Stderr,
    Stdout,
    TimeoutException,
)

PY = "python3 -c "
A8191_E2 = PY + "\"import sys; sys.stdout.buffer.write(b'a' * 8191 + b'\\xe2')\""


def test_foreground_result(sandbox: Sandbox) -> None:
    result = sandbox.commands.run("echo hello; echo oops >&2")
    assert result == CommandResult(stdout="hello\n", stderr="oops\n", exit_code=0, error=None)
    assert type(result.stdout) is str


def test_nonzero_exit_raises_command_exit_exception(sandbox: Sandbox) -> None:
    with pytest.raises(CommandExitException) as info:
        sandbox.commands.run("echo out; echo err >&2; exit 3")
    e = info.value
    assert isinstance(e, CommandResult) and isinstance(e, SandboxException)
    assert (e.exit_code, e.stdout, e.stderr, e.error) == (3, "out\n", "err\n", "exit status 3")
    assert str(e) == "Command exited with code 3 and error:\nerr\n"


def test_nonzero_exit_with_callbacks_raises_too(sandbox: Sandbox) -> None:
    seen: List[str] = []
    with pytest.raises(CommandExitException) as info:
        sandbox.commands.run("echo out; exit 4", on_stdout=seen.append)
    assert (info.value.exit_code, info.value.stdout, seen) == (4, "out\n", ["out\n"])


def test_foreground_timeout_raises_timeout_exception(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutException) as info:
        sandbox.commands.run("echo started; sleep 30", timeout=1)
    assert time.monotonic() - started < 15
    assert info.value.kind == "Timeout"
    assert getattr(info.value, "stdout") == "started\n"


def test_foreground_timeout_with_callbacks(sandbox: Sandbox) -> None:
    seen: List[str] = []
    with pytest.raises(TimeoutException):
        sandbox.commands.run("echo started; sleep 30", timeout=1, on_stdout=seen.append)
    assert seen == ["started\n"]


def test_background_timeout_counts_from_start(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 30", background=True, timeout=1)
    started = time.monotonic()
    with pytest.raises(TimeoutException):
        handle.wait()
    assert time.monotonic() - started < 15


def test_iterating_a_silent_process_past_its_timeout_raises(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 30", background=True, timeout=1)
    with pytest.raises(TimeoutException):
        for _ in handle:
            pytest.fail("a silent process yielded output")


def test_invalid_utf8_is_replaced_across_chunk_boundaries(sandbox: Sandbox) -> None:
    expected = "a" * 8191 + "\ufffd"
    assert sandbox.commands.run(A8191_E2).stdout == expected
    chunks: List[str] = []
    result = sandbox.commands.run(A8191_E2, on_stdout=chunks.append)
    assert result.stdout == expected
    assert "".join(chunks) == expected
    assert all(isinstance(c, str) and c for c in chunks)
    handle = sandbox.commands.run(A8191_E2, background=True)
    assert "".join(out for out, _, _ in handle if out is not None) == expected
    assert handle.stdout == expected


def test_a_character_split_across_writes_arrives_whole(sandbox: Sandbox) -> None:
    chunks: List[str] = []
    script = "import os, time; os.write(1, b'x\\xe2\\x82'); time.sleep(0.3); os.write(1, b'\\xac\\xffy')"
    result = sandbox.commands.run(PY + f'"{script}"', on_stdout=chunks.append)
    assert result.stdout == "x\u20ac\ufffdy" == "".join(chunks)
    assert "\ufffd" not in chunks[0]  # the euro sign was held back whole, not replaced
    assert sandbox.commands.run(PY + f'"{script}"').stdout == "x\u20ac\ufffdy"


def test_large_stdin_round_trip(sandbox: Sandbox) -> None:
    data = "".join(f"{i:07d}\n" for i in range(131072))  # 1 MiB
    handle = sandbox.commands.run("cat", background=True, stdin=True)
    for i in range(0, len(data), 65536):
        handle.send_stdin(data[i : i + 65536])
    handle.close_stdin()
    assert handle.wait().stdout == data


def test_many_background_commands_are_routed_by_pid(sandbox: Sandbox) -> None:
    handles = [sandbox.commands.run(f"for j in 1 2 3; do echo {i}-$j; done", background=True) for i in range(40)]
    for i, handle in enumerate(handles):
        assert handle.wait().stdout == f"{i}-1\n{i}-2\n{i}-3\n"
    assert len({h.pid for h in handles}) == 40


def test_callbacks_get_chunks_as_produced_not_lines(sandbox: Sandbox) -> None:
    out: List[Stdout] = []
    err: List[Stderr] = []
    before = time.time()
    # one write(2) of two lines, then one of a partial line: chunks follow writes, not lines
    result = sandbox.commands.run(
        PY + "\"import os, time; os.write(1, b'a\\nb\\n'); time.sleep(0.3); os.write(1, b'c'); time.sleep(0.3); os.write(2, b'x')\"",
        on_stdout=out.append,
        on_stderr=err.append,
    )
    assert (result.stdout, result.stderr) == ("a\nb\nc", "x")
    assert [str(c) for c in out] == ["a\nb\n", "c"]
    assert [str(c) for c in err] == ["x"]
    for chunk in out + err:
        assert chunk.line == str(chunk)
        assert chunk.timestamp is not None and before - 1 < chunk.timestamp < time.time() + 1
    assert isinstance(err[0], Stderr) and isinstance(out[0], Stdout)


def test_output_produced_before_anyone_waits_is_kept(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo early; echo late >&2", background=True)
    eventually(lambda: handle.exit_code is not None)
    assert list(handle) == [("early\n", None, None), (None, "late\n", None)]
    assert handle.wait() == CommandResult(stdout="early\n", stderr="late\n", exit_code=0, error=None)


def test_envs_reach_command_and_do_not_leak(bridge_path: str) -> None:
    with Sandbox.create(envs={"SANDBOX_VAR": "s"}) as sandbox:
        assert sandbox.commands.run("echo $SANDBOX_VAR-$CMD_VAR", envs={"CMD_VAR": "c"}).stdout == "s-c\n"
        assert sandbox.commands.run("echo $SANDBOX_VAR-${CMD_VAR:-unset}").stdout == "s-unset\n"
        handle = sandbox.commands.run("echo $CMD_VAR", background=True, envs={"CMD_VAR": "bg"})
        assert handle.wait().stdout == "bg\n"
        assert sandbox.commands.run("echo ${CMD_VAR:-unset}").stdout == "unset\n"


def test_command_envs_override_sandbox_envs(bridge_path: str) -> None:
    with Sandbox.create(envs={"V": "sandbox"}) as sandbox:
        assert sandbox.commands.run("echo $V", envs={"V": "command"}).stdout == "command\n"
        assert sandbox.commands.run("echo $V").stdout == "sandbox\n"


def test_bridge_environment_does_not_reach_commands(bridge_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_RPC_TEST_SECRET", "do-not-leak")
    with Sandbox() as sandbox:
        assert sandbox.commands.run("echo ${SANDBOX_RPC_TEST_SECRET:-absent}").stdout == "absent\n"


def test_invalid_envs_raise_invalid_argument(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgumentException) as info:
        sandbox.commands.run("true", envs={"A=B": "1"})
    assert info.value.kind == "InvalidParams"
    assert info.value.code == -32602


def test_default_cwd_is_home_and_relative_cwd_starts_there(sandbox: Sandbox) -> None:
    home = sandbox.home
    assert home and sandbox.commands.run("pwd").stdout == home + "\n"
    sandbox.commands.run("mkdir -p sub/dir")
    assert sandbox.commands.run("pwd", cwd="sub/dir").stdout == home.rstrip("/") + "/sub/dir\n"
    with pytest.raises(FileNotFoundException):
        sandbox.commands.run("pwd", cwd="does/not/exist")


def test_kill_unknown_pid_returns_false(sandbox: Sandbox) -> None:
    assert sandbox.commands.kill(999999) is False
    assert sandbox.commands.kill(pid=999998) is False


def test_kill_reaps_the_process_before_returning(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 100", background=True)
    assert sandbox.commands.run(f"kill -0 {handle.pid}").exit_code == 0
    assert sandbox.commands.kill(handle.pid) is True
    with pytest.raises(CommandExitException) as info:
        sandbox.commands.run(f"kill -0 {handle.pid}")
    assert info.value.exit_code == 1
    with pytest.raises(CommandExitException) as exited:
        handle.wait()
    assert (exited.value.exit_code, exited.value.error) == (137, "signal: killed")
    assert handle.kill() is False
    assert sandbox.commands.kill(handle.pid) is False


def test_handle_kill(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 100", background=True)
    assert handle.kill() is True
    assert eventually(lambda: handle.exit_code) == 137


def test_list_shows_running_commands(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 100", background=True, envs={"TAGGED": "yes"})
    processes = sandbox.commands.list()
    assert processes == [
        ProcessInfo(
            pid=handle.pid,
            tag=None,
            cmd="sleep 100",
            args=[],
            envs={"TAGGED": "yes"},
            cwd=sandbox.home,
            is_pty=False,
            started_at=processes[0].started_at,
        )
    ]
    assert abs(time.time() - (processes[0].started_at or 0)) < 60
    handle.kill()
    assert sandbox.commands.list() == []


def test_stdin_str_and_bytes(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("cat", background=True, stdin=True)
    handle.send_stdin("hello\n")
    sandbox.commands.send_stdin(handle.pid, "h\u00e9\n".encode())
    sandbox.commands.send_stdin(handle.pid, b"\xe2\x82")  # half a character, finished below
    sandbox.commands.send_stdin(handle.pid, b"\xac\n")
    handle.close_stdin()
    assert handle.wait().stdout == "hello\nh\u00e9\n\u20ac\n"


def test_moru_stdin_upper_caser_output_is_live(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("python3 -c 'while True: print(input().upper())'", background=True, stdin=True)
    handle.send_stdin("hello\n")
    eventually(lambda: handle.stdout == "HELLO\n")
    handle.send_stdin("world\n")
    eventually(lambda: handle.stdout == "HELLO\nWORLD\n")
    assert handle.exit_code is None
    assert handle.kill() is True


def test_stdin_to_an_exited_process(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("true", background=True, stdin=True)
    eventually(lambda: handle.exit_code == 0)
    with pytest.raises(SandboxException) as info:
        handle.send_stdin("late")
    assert info.value.kind == "ProcessNotRunning"


def test_stdin_closed_errors(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 100", background=True, stdin=False)
    with pytest.raises(SandboxException) as info:
        handle.send_stdin("x")
    assert info.value.kind == "StdinClosed"
    handle.kill()


def test_stdin_is_dev_null_for_foreground_runs(sandbox: Sandbox) -> None:
    assert sandbox.commands.run("cat; echo done").stdout == "done\n"


def test_background_without_stdin_flag_accepts_stdin_and_wait_ends_it(sandbox: Sandbox) -> None:
    # Declaw's example: no stdin=..., send_stdin, then wait() (which closes stdin).
    handle = sandbox.commands.run(PY + "\"import sys; [print(l.strip()+'!') for l in sys.stdin]\"", background=True)
    sandbox.commands.send_stdin(handle.pid, "hello\nworld\n")
    assert handle.wait().stdout == "hello!\nworld!\n"


def test_live_callbacks_and_live_state_from_a_reader_thread(sandbox: Sandbox) -> None:
    chunks: List[str] = []
    threads = set()

    def on_stdout(data: str) -> None:
        threads.add(threading.get_ident())
        chunks.append(data)

    handle = sandbox.commands.run("echo 1; sleep 0.3; echo 2", background=True, on_stdout=on_stdout)
    eventually(lambda: chunks == ["1\n"] and handle.stdout == "1\n")
    assert handle.exit_code is None
    eventually(lambda: handle.exit_code == 0)
    assert chunks == ["1\n", "2\n"] and handle.stdout == "1\n2\n"
    assert threading.get_ident() not in threads
    later: List[str] = []
    assert handle.wait(on_stdout=later.append).stdout == "1\n2\n"
    assert later == []  # delivered live already: never twice


def test_wait_callbacks_get_only_what_was_not_delivered(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo a; sleep 0.3; echo b", background=True)
    iterator = iter(handle)
    assert next(iterator) == ("a\n", None, None)
    rest: List[str] = []
    assert handle.wait(on_stdout=rest.append).stdout == "a\nb\n"
    assert rest == ["b\n"]


def test_iteration_yields_one_stream_per_tuple(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo o; sleep 0.2; echo e >&2; sleep 0.2; echo o2", background=True)
    assert list(handle) == [("o\n", None, None), (None, "e\n", None), ("o2\n", None, None)]
    assert handle.exit_code == 0


def test_connect_returns_kept_output_then_live_output(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo one; read x; echo two", background=True, stdin=True)
    eventually(lambda: handle.stdout == "one\n")
    other = sandbox.commands.connect(handle.pid)
    assert isinstance(other, CommandHandle) and other.pid == handle.pid
    handle.send_stdin("\n")
    assert other.wait().stdout == "one\ntwo\n"
    assert handle.wait().stdout == "one\ntwo\n"


def test_connect_to_an_exited_process_replays_its_end(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo out; echo err >&2; exit 7", background=True)
    eventually(lambda: handle.exit_code == 7)
    again = sandbox.commands.connect(handle.pid)
    with pytest.raises(CommandExitException) as info:
        again.wait()
    assert (info.value.exit_code, info.value.stdout, info.value.stderr) == (7, "out\n", "err\n")


def test_connect_by_keyword_and_unknown_pid(sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundException):
        sandbox.commands.connect(pid=999999)


def test_disconnect_keeps_process_running_and_output_kept(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 0.3; echo hi; sleep 100", background=True)
    handle.disconnect()
    with pytest.raises(SandboxException):
        handle.wait()
    assert [p.pid for p in sandbox.commands.list()] == [handle.pid]
    assert sandbox.commands.run("pgrep -f 'sleep 100'").exit_code == 0
    time.sleep(0.6)
    assert handle.stdout == ""  # nothing delivered after disconnecting
    again = sandbox.commands.connect(handle.pid)
    eventually(lambda: again.stdout == "hi\n")
    assert again.kill() is True
    with pytest.raises(CommandExitException) as info:
        again.wait()
    assert (info.value.exit_code, info.value.stdout) == (137, "hi\n")


def test_connect_timeout_stops_listening_not_the_process(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("sleep 100", background=True)
    connected = sandbox.commands.connect(handle.pid, timeout=0.5)
    with pytest.raises(TimeoutException):
        connected.wait()
    assert [p.pid for p in sandbox.commands.list()] == [handle.pid]
    handle.kill()


def test_run_stream_calls_back_live_and_returns_result(sandbox: Sandbox) -> None:
    lines: List[str] = []
    arrived: List[float] = []

    def on_stdout(chunk: str) -> None:
        lines.append(chunk)
        arrived.append(time.monotonic())

    result = sandbox.commands.run_stream("for i in 1 2 3; do echo $i; sleep 0.3; done; exit 2", on_stdout=on_stdout)
    returned = time.monotonic()
    assert lines == ["1\n", "2\n", "3\n"]
    assert returned - arrived[0] > 0.5  # the first line came while the command still ran
    assert (result.exit_code, result.stdout, result.error) == (2, "1\n2\n3\n", "exit status 2")


def test_killed_sandbox_fails_waits_with_timeout_exception(bridge_path: str) -> None:
    sandbox = Sandbox()
    handle = sandbox.commands.run("sleep 100", background=True)
    assert sandbox.kill() is True
    with pytest.raises(TimeoutException) as info:
        handle.wait()
    assert "killed or reached its end of life" in str(info.value)
    assert sandbox.kill() is False


def test_sandbox_timeout_ends_sandbox(bridge_path: str) -> None:
    with Sandbox.create(timeout=1) as sandbox:
        handle = sandbox.commands.run("sleep 100", background=True)
        with pytest.raises(TimeoutException) as info:
            handle.wait()
        assert "killed or reached its end of life" in str(info.value)
        assert sandbox.is_running() is False


def test_commands_run_concurrently(sandbox: Sandbox) -> None:
    results: List[str] = []
    slow = threading.Thread(target=lambda: results.append(sandbox.commands.run("sleep 1; echo slow").stdout))
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert sandbox.commands.run("echo fast").stdout == "fast\n"
    assert time.monotonic() - started < 0.9
    slow.join()
    assert results == ["slow\n"]


def test_pids_are_the_sandbox_own(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run("echo $$; sleep 100", background=True)
    assert eventually(lambda: handle.stdout) == f"{handle.pid}\n"
    handle.kill()


def test_signal_names_in_error(sandbox: Sandbox) -> None:
    with pytest.raises(CommandExitException) as info:
        sandbox.commands.run("kill -TERM $$")
    assert (info.value.exit_code, info.value.error) == (143, "signal: terminated")


def test_large_output_is_complete(sandbox: Sandbox) -> None:
    size = 3 * 1024 * 1024
    result = sandbox.commands.run(f"head -c {size} /dev/zero | tr '\\0' 'x'")
    assert result.stdout == "x" * size
    chunks: List[str] = []
    result = sandbox.commands.run(f"head -c {size} /dev/zero | tr '\\0' 'y'", on_stdout=chunks.append)
    assert "".join(chunks) == "y" * size == result.stdout


def test_get_host(sandbox: Sandbox) -> None:
    from rpc_test_support import get_host_supported

    if not get_host_supported(sandbox):
        pytest.skip("bridge does not answer sandbox.getHost")
    host = sandbox.get_host(8080)
    name, port = host.rsplit(":", 1)
    assert name and 0 < int(port) < 65536
    if sandbox.isolation == "none":
        assert port == "8080"


def test_sandbox_identity_and_info(sandbox: Sandbox) -> None:
    assert isinstance(sandbox.sandbox_id, str) and sandbox.sandbox_id
    info = sandbox.get_info()
    assert info.sandbox_id == sandbox.sandbox_id
    assert sandbox.is_running() is True
    assert sandbox.capabilities["isolation"] and "none" in sandbox.capabilities["isolation"]


def test_metadata_is_kept(bridge_path: str) -> None:
    with Sandbox.create(metadata={"owner": "tests"}) as sandbox:
        assert sandbox.get_info().metadata == {"owner": "tests"}


def test_e2b_cloud_options_are_accepted(bridge_path: str) -> None:
    with Sandbox("base", api_key="ignored", domain="ignored") as sandbox:
        assert sandbox.commands.run("echo ok").stdout == "ok\n"


def test_pythonunbuffered_default_lets_output_stream(sandbox: Sandbox) -> None:
    handle = sandbox.commands.run(PY + "\"import time; print('x'); time.sleep(100)\"", background=True)
    eventually(lambda: handle.stdout == "x\n")
    handle.kill()


def test_user_param_is_passed(sandbox: Sandbox) -> None:
    me = sandbox.commands.run("id -un").stdout
    assert sandbox.commands.run("id -un", user=me.strip()).stdout == me
    with pytest.raises(SandboxException) as info:
        sandbox.commands.run("true", user="no-such-user-here")
    assert info.value.kind == "PermissionDenied"
