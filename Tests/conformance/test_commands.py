"""commands.run: results, environment, cwd, user, encodings, UTF-8 boundaries, retention, big output."""

import base64
import os
import pwd

import pytest

from conftest import DEFAULT_PATH, SECRET_NAME, SECRET_VALUE, signum

MiB = 1024 * 1024


def new_sandbox(bridge, **params):
    return bridge.ok("sandbox.create", {"isolation": "none", **params})


# ------------------------------------------------------------------------------------------- results
def test_foreground_result_is_exact(bridge):
    r = bridge.run("echo hi; echo err >&2; exit 3")
    assert set(r) == {"pid", "stdout", "stderr", "exitCode"}
    assert (r["stdout"], r["stderr"], r["exitCode"]) == ("hi\n", "err\n", 3)
    assert isinstance(r["pid"], int) and r["pid"] > 1


def test_empty_output_and_success(bridge):
    r = bridge.run("true")
    assert (r["stdout"], r["stderr"], r["exitCode"]) == ("", "", 0)
    assert "signal" not in r and "truncated" not in r


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGHUP"])
def test_killed_by_signal_reports_128_plus_n_and_the_name(bridge, sig):
    r = bridge.run(f"echo before; kill -{sig[3:]} $$; echo after")
    assert r["stdout"] == "before\n"
    assert r["exitCode"] == 128 + signum(sig)
    assert r["signal"] == sig


def test_command_has_its_own_session_and_process_group(bridge):
    r = bridge.run("echo $$; awk '{print $5, $6}' /proc/$$/stat")
    pid = r["pid"]
    assert r["stdout"] == f"{pid}\n{pid} {pid}\n", "pid is the bash's, and it leads its own group and session"


def test_stdin_is_dev_null_by_default(bridge):
    r = bridge.run("readlink /proc/self/fd/0; cat; echo rc=$?", timeout=10)
    assert r["stdout"] == "/dev/null\nrc=0\n"


def test_unicode_in_cmd_and_output(bridge):
    bridge.send_raw('{"jsonrpc":"2.0","id":"u","method":"commands.run","params":{"cmd":"printf %s \\"\\u00fc \\ud83d\\ude00 \u20ac\\""}}\n')
    assert bridge.wait_response("u")["result"]["stdout"] == "ü 😀 €"


def test_runs_under_bash(bridge):
    r = bridge.run('echo "${BASH_VERSION:+bash}"; [[ 1 == 1 ]] && echo brackets; shopt -q extglob; echo $?')
    assert r["stdout"] == "bash\nbrackets\n1\n"


# ------------------------------------------------------------------------------------------- environment
ALLOWED_EXTRA = {"PWD", "SHLVL", "_", "OLDPWD", "LOGNAME", "TMPDIR", "HOSTNAME"}


def env_of(result):
    return dict(item.split("=", 1) for item in result["stdout"].split("\0") if item)


def test_clean_environment_with_non_interactive_defaults(bridge):
    r = bridge.run("env -0; printf 'HOME_PWD=%s' \"$(pwd)\" >&2")
    env = env_of(r)
    assert SECRET_NAME not in env
    assert SECRET_VALUE not in r["stdout"]
    expected = {
        "PATH": DEFAULT_PATH,
        "HOME": r["stderr"].split("=", 1)[1],  # with no cwd a command starts in the sandbox home
        "USER": pwd.getpwuid(os.getuid()).pw_name,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "GIT_TERMINAL_PROMPT": "0",
        "DEBIAN_FRONTEND": "noninteractive",
        "SHELL": "/bin/bash",
        "PYTHONUNBUFFERED": "1",  # a decision of ours (README): Python output streams live
    }
    assert {k: env.get(k) for k in expected} == expected
    extra = set(env) - set(expected)
    assert extra <= ALLOWED_EXTRA, f"variables the contract does not name (leaked from the bridge?): {sorted(extra - ALLOWED_EXTRA)}"


def test_secret_in_bridge_env_is_invisible_even_via_proc(bridge):
    r = bridge.run(f'printenv {SECRET_NAME}; echo rc=$?; cat /proc/self/environ | tr "\\0" "\\n" | grep -c {SECRET_NAME}')
    assert r["stdout"] == "rc=1\n0\n"


def test_inherit_env_flag_passes_the_bridge_env(make_bridge):
    bridge = make_bridge("--inherit-env")
    r = bridge.run(f"printenv {SECRET_NAME}")
    assert r["stdout"] == SECRET_VALUE + "\n"


def test_sandbox_envs_then_command_envs_override_defaults(bridge):
    sb = new_sandbox(bridge, envs={"A": "sandbox", "B": "sandbox", "PAGER": "less"})["sandboxId"]
    r = bridge.run('printf "%s|%s|%s|%s|%s|%s" "$A" "$B" "$C" "$PAGER" "$TERM" "$LANG"', sandboxId=sb,
                   envs={"B": "cmd", "C": "cmd", "TERM": "xterm"})
    assert r["stdout"] == "sandbox|cmd|cmd|less|xterm|C.UTF-8"
    r = bridge.run('printf "%s|%s" "$A" "$B"', sandboxId=sb)
    assert r["stdout"] == "sandbox|sandbox", "a command's envs do not stick to the sandbox"


def test_env_values_are_passed_verbatim(bridge):
    value = "a b\nc=d ü $HOME `x` \\ '\""
    r = bridge.run('printf %s "$WEIRD"', envs={"WEIRD": value, "EMPTY": ""})
    assert r["stdout"] == value
    assert bridge.run('printf %s "${EMPTY-unset}"', envs={"EMPTY": ""})["stdout"] == ""


# ------------------------------------------------------------------------------------------- cwd
def test_cwd_default_relative_absolute(bridge, tmp_path):
    sb = new_sandbox(bridge)
    sid, home = sb["sandboxId"], sb["home"]
    assert os.path.isabs(home) and os.path.isdir(home)
    assert bridge.run('pwd; printf %s "$HOME"', sandboxId=sid)["stdout"] == f"{home}\n{home}"
    bridge.run("mkdir -p sub/dir", sandboxId=sid)
    assert bridge.run("pwd", sandboxId=sid, cwd="sub/dir")["stdout"] == f"{home}/sub/dir\n"
    assert bridge.run("pwd", sandboxId=sid, cwd=str(tmp_path))["stdout"] == f"{tmp_path}\n"


def test_missing_cwd_is_file_not_found(bridge):
    err = bridge.err("commands.run", {"cmd": "touch ran", "cwd": "/nonexistent-cwd-3f9/abc"})
    assert err["code"] == -32005
    assert err["data"] == {"kind": "FileNotFound", "path": "/nonexistent-cwd-3f9/abc"}


def test_missing_relative_cwd_is_file_not_found(bridge):
    home = bridge.run("pwd")["stdout"].strip()
    err = bridge.err("commands.run", {"cmd": "touch ran", "cwd": "no-such-subdir"})
    assert err["code"] == -32005
    assert err["data"]["kind"] == "FileNotFound"
    assert err["data"]["path"] in ("no-such-subdir", f"{home}/no-such-subdir")
    assert bridge.run("test -e ran; echo $?")["stdout"] == "1\n"


def test_cwd_that_is_a_file_is_not_a_directory(bridge, tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("x")
    err = bridge.err("commands.run", {"cmd": "true", "cwd": str(f)})
    assert err["code"] == -32006
    assert err["data"] == {"kind": "NotADirectory", "path": str(f)}


# ------------------------------------------------------------------------------------------- user
def test_user_switch(bridge):
    me = pwd.getpwuid(os.getuid()).pw_name
    assert bridge.run("id -un", user=me)["stdout"] == f"{me}\n"
    if os.getuid() == 0:
        r = bridge.run('id -u; id -un; printf %s "$USER"', user="nobody")
        assert r["stdout"] == f"{pwd.getpwnam('nobody').pw_uid}\nnobody\nnobody"
    else:
        err = bridge.err("commands.run", {"cmd": "id -u", "user": "nobody"})
        assert (err["code"], err["data"]["kind"]) == (-32004, "PermissionDenied")


# ------------------------------------------------------------------------------------------- encodings
RAW = b"\x00\xff\xfe abc\n\xe2\x82\xac"


def test_base64_gives_exact_bytes_in_result_and_stream(bridge):
    cmd = "printf '\\000\\377\\376 abc\\n\\342\\202\\254'; printf '\\001\\200' >&2"
    r = bridge.run(cmd, encoding="base64", stream=True)
    assert base64.b64decode(r["stdout"], validate=True) == RAW
    assert base64.b64decode(r["stderr"], validate=True) == b"\x01\x80"
    assert bridge.output_bytes_b64(r["pid"], "stdout") == RAW
    assert bridge.output_bytes_b64(r["pid"], "stderr") == b"\x01\x80"


@pytest.mark.parametrize("stream", [False, True])
def test_utf8_default_replaces_invalid_bytes(bridge, stream):
    r = bridge.run("printf 'a\\377b|\\342\\202x|\\000|\\342\\202\\254'", stream=stream, wait=10)
    assert r["stdout"] == "a\ufffdb|\ufffdx|\x00|\u20ac"
    if stream:
        assert bridge.output_text(r["pid"]) == "a\ufffdb|\ufffdx|\x00|\u20ac"


def test_split_multibyte_tail_8191_a_then_e2(bridge):
    r = bridge.run("head -c 8191 /dev/zero | tr '\\0' a; printf '\\342'", stream=True)
    expected = "a" * 8191 + "\ufffd"
    assert r["stdout"] == expected
    assert bridge.output_text(r["pid"]) == expected
    assert r["exitCode"] == 0


def test_multibyte_char_never_split_across_notifications(bridge):
    r = bridge.run("head -c 8191 /dev/zero | tr '\\0' a; printf '\\342\\202\\254b'; yes '€' | head -c 400000",
                   stream=True)
    expected = "a" * 8191 + "€b" + "€\n" * 100000
    assert r["stdout"] == expected
    chunks = [n["params"]["data"] for n in bridge.notifications("commands.output", r["pid"])]
    assert "".join(chunks) == expected
    assert not any("\ufffd" in c for c in chunks)


def test_four_byte_char_across_a_256k_boundary(bridge):
    r = bridge.run("head -c 262143 /dev/zero | tr '\\0' a; printf '\\360\\237\\230\\200z'", stream=True)
    expected = "a" * 262143 + "\U0001F600z"
    assert r["stdout"] == expected
    assert bridge.output_text(r["pid"]) == expected


def test_invalid_byte_then_ascii_at_8192(bridge):
    r = bridge.run("head -c 8191 /dev/zero | tr '\\0' a; printf '\\377b'", stream=True)
    assert r["stdout"] == "a" * 8191 + "\ufffdb"
    assert bridge.output_text(r["pid"]) == "a" * 8191 + "\ufffdb"


def test_every_ascii_byte_survives_json_escaping(bridge):
    r = bridge.run("printf '%b' \"$(printf '\\\\%03o' $(seq 1 127))\"; printf '\\342\\200\\250\\342\\200\\251'",
                   stream=True)
    expected = "".join(chr(i) for i in range(1, 128)) + "\u2028\u2029"
    assert r["stdout"] == expected
    assert bridge.output_text(r["pid"]) == expected


# ------------------------------------------------------------------------------------------- retention
def test_max_output_bytes_keeps_head_and_tail(bridge):
    r = bridge.run("printf 0123456789; printf ABCDEFGHIJKL >&2", maxOutputBytes=5)
    assert (r["stdout"], r["stderr"]) == ("01289", "ABCKL")
    assert r["truncated"] == {"stdout": 5, "stderr": 7}


def test_max_output_bytes_with_base64(bridge):
    r = bridge.run("printf '\\377\\3762345678\\375'", maxOutputBytes=5, encoding="base64")
    assert base64.b64decode(r["stdout"], validate=True) == b"\xff\xfe2" + b"8\xfd"
    assert r["truncated"] == {"stdout": 5, "stderr": 0}


def test_max_output_bytes_exact_fit_has_no_truncated(bridge):
    r = bridge.run("printf 0123456789", maxOutputBytes=10)
    assert r["stdout"] == "0123456789"
    assert "truncated" not in r


def test_max_output_bytes_one(bridge):
    r = bridge.run("printf 0123456789", maxOutputBytes=1)
    assert r["stdout"] == "0"
    assert r["truncated"] == {"stdout": 9, "stderr": 0}


def test_max_output_bytes_zero_keeps_nothing_but_streams_everything(bridge):
    r = bridge.run("printf 0123456789; printf ABCDEFGHIJKL >&2", maxOutputBytes=0, stream=True)
    assert (r["stdout"], r["stderr"]) == ("", "")
    assert r["truncated"] == {"stdout": 10, "stderr": 12}
    assert bridge.output_text(r["pid"], "stdout") == "0123456789"
    assert bridge.output_text(r["pid"], "stderr") == "ABCDEFGHIJKL"


def test_sandbox_limit_max_output_bytes_is_the_default(bridge):
    sid = new_sandbox(bridge, limits={"maxOutputBytes": 4})["sandboxId"]
    r = bridge.run("printf 0123456789", sandboxId=sid)
    assert (r["stdout"], r["truncated"]) == ("0189", {"stdout": 6, "stderr": 0})
    r = bridge.run("printf 0123456789", sandboxId=sid, maxOutputBytes=6)
    assert (r["stdout"], r["truncated"]) == ("012789", {"stdout": 4, "stderr": 0})


def test_retention_applies_to_wait_of_background_run(bridge):
    pid = bridge.ok("commands.run", {"cmd": "printf 0123456789", "background": True, "maxOutputBytes": 5,
                                     "stream": False})["pid"]
    r = bridge.ok("commands.wait", {"pid": pid})
    assert r == {"pid": pid, "stdout": "01289", "stderr": "", "exitCode": 0, "truncated": {"stdout": 5, "stderr": 0}}


# ------------------------------------------------------------------------------------------- 50 MB
N50 = 50_000_000
PATTERN = "abcdefghi\n"
BIG_CMD = f"yes abcdefghi | head -c {N50}"


def expected_big():
    return PATTERN * (N50 // len(PATTERN))


def check_head_tail(result, expected):
    m = 16 * MiB
    assert result["truncated"] == {"stdout": N50 - m, "stderr": 0}
    assert len(result["stdout"]) == m
    assert result["stdout"][: m // 2] == expected[: m // 2]
    assert result["stdout"][m // 2:] == expected[-(m // 2):]


def test_50mb_foreground_streamed_counted_exactly(bridge):
    r = bridge.run(BIG_CMD, stream=True, timeout=0, wait=150)
    expected = expected_big()
    assert r["exitCode"] == 0 and r["stderr"] == ""
    check_head_tail(r, expected)
    assert bridge.output_bytes[("default", r["pid"], "stdout")] == N50
    assert bridge.output_text(r["pid"]) == expected


def test_50mb_background_stream_counted_exactly(bridge):
    pid = bridge.ok("commands.run", {"cmd": BIG_CMD, "background": True, "stream": True})["pid"]
    ex = bridge.wait_exit_notification(pid, timeout=150)
    assert ex.msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    assert bridge.output_bytes[("default", pid, "stdout")] == N50
    expected = expected_big()
    assert bridge.output_text(pid) == expected
    r = bridge.ok("commands.wait", {"pid": pid}, timeout=30)
    check_head_tail(r, expected)


def test_50mb_base64_background_decodes_to_exact_length(bridge):
    total = 0

    def count(msg):
        nonlocal total
        total += len(base64.b64decode(msg["params"]["data"], validate=True))

    bridge.retain_output = False
    bridge.output_hook = count
    pid = bridge.ok("commands.run", {"cmd": f"head -c {N50} /dev/urandom", "background": True,
                                     "encoding": "base64", "maxOutputBytes": 0})["pid"]
    bridge.wait_exit_notification(pid, timeout=150)
    assert total == N50
