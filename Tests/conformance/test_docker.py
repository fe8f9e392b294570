"""Docker sandboxes: a container per sandbox, `sandbox-rpc agent` exec'd into it once, the same
protocol through the exec stream. Each escape check would fail if the command got out.

Needs a Docker Engine, the image sandbox-rpc-base:latest (scripts/docker-image) and a static
sandbox-rpc for the agent ($SANDBOX_RPC_DOCKER_AGENT, default .build/release/sandbox-rpc from
scripts/build-release). `.ci/run` provides all three; outside CI a machine without them skips
these tests with the reason; with CI=true that is a failure.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import IN_CI, REPO

AGENT = os.environ.get("SANDBOX_RPC_DOCKER_AGENT") or str(REPO / ".build" / "release" / "sandbox-rpc")
IMAGE = "sandbox-rpc-base:latest"


def docker(*args, check=True) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def containers_of(sandbox_id: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"label=sandbox-rpc.sandbox={sandbox_id}").split()


def missing_prerequisite() -> str | None:
    try:
        docker("version")
    except (OSError, AssertionError, subprocess.TimeoutExpired):
        return "no Docker Engine answers (dockerd not running)"
    if not os.access(AGENT, os.X_OK):
        return f"no static agent binary at {AGENT} (scripts/build-release)"
    if not docker("images", "-q", IMAGE).strip():
        return f"no image {IMAGE} (scripts/docker-image)"
    return None


@pytest.fixture(scope="module")
def prerequisites():
    reason = missing_prerequisite()
    if reason:
        if IN_CI:
            pytest.fail(reason + " (CI=true: .ci/run installs and starts Docker)", pytrace=False)
        pytest.skip(reason)


SECRET = "sandbox-rpc-docker-secret-9151"


@pytest.fixture
def dk(prerequisites, make_bridge):
    bridge = make_bridge("--docker-agent", AGENT, env={**os.environ, "SANDBOX_RPC_DOCKER_SECRET": SECRET})
    assert "docker" in bridge.ok("initialize")["capabilities"]["isolation"]
    return bridge


def create(bridge, **params):
    result = bridge.ok("sandbox.create", {"isolation": "docker", **params}, timeout=60)
    assert result["isolation"] == "docker" and result["home"] == "/home/user"
    return result["sandboxId"]


def run(bridge, sandbox, cmd, **params):
    return bridge.ok("commands.run", {"sandboxId": sandbox, "cmd": cmd, **params}, timeout=30)


def test_a_container_per_sandbox_with_the_agent_inside(dk):
    sb = create(dk)
    r = run(dk, sb, "id -un; id -u; echo $HOME; pwd; hostname; echo $$")
    lines = r["stdout"].splitlines()
    assert lines[:5] == ["user", "1000", "/home/user", "/home/user", "sandbox"]
    assert int(lines[5]) == r["pid"]
    [container] = containers_of(sb)
    info = json.loads(docker("inspect", container))[0]
    assert info["HostConfig"]["Init"] is True
    assert info["HostConfig"]["NetworkMode"] == "none"
    assert info["HostConfig"]["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in info["HostConfig"]["SecurityOpt"]
    assert info["Config"]["User"] == "1000:1000"
    assert info["Config"]["Labels"]["sandbox-rpc.bridge"].split("/")[2] == str(dk.pid)  # boot/pidns/pid/start
    execs = info.get("ExecIDs") or []
    assert len(execs) == 1, "one long-lived exec of the agent, none per command"
    run(dk, sb, "true")
    assert len(json.loads(docker("inspect", container))[0].get("ExecIDs") or []) == 1


def test_streaming_stdin_and_exit_codes_through_the_exec_stream(dk):
    sb = create(dk)
    pid = dk.ok("commands.run", {"sandboxId": sb, "cmd": "while read l; do echo \"got $l\"; echo err >&2; done; exit 3",
                                 "background": True, "stdin": True})["pid"]
    for word in ("one", "two", "ünïcödé"):
        dk.ok("commands.sendStdin", {"sandboxId": sb, "pid": pid, "data": word + "\n"})
    dk.ok("commands.closeStdin", {"sandboxId": sb, "pid": pid})
    exit_record = dk.wait_exit_notification(pid, timeout=20, sandbox_id=sb)
    assert exit_record.msg["params"]["exitCode"] == 3
    assert dk.output_text(pid, sandbox_id=sb) == "got one\ngot two\ngot ünïcödé\n"
    assert dk.output_text(pid, "stderr", sandbox_id=sb) == "err\n" * 3
    big = run(dk, sb, "head -c 3000000 /dev/zero | tr '\\0' x; echo")
    assert len(big["stdout"]) == 3000001 and big["stdout"].count("x") == 3000000


def test_files_round_trip(dk):
    sb = create(dk)
    dk.ok("files.write", {"sandboxId": sb, "path": "notes/hello.txt", "content": "hello docker\n"})
    assert run(dk, sb, "cat /home/user/notes/hello.txt")["stdout"] == "hello docker\n"
    assert dk.ok("files.read", {"sandboxId": sb, "path": "/home/user/notes/hello.txt"})["content"] == "hello docker\n"
    names = [e["name"] for e in dk.ok("files.list", {"sandboxId": sb, "path": "notes"})["entries"]]
    assert names == ["hello.txt"]


def test_escapes_are_blocked(dk):
    sb = create(dk)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        r = run(dk, sb, f"""
            touch /etc/x 2>/dev/null && echo WROTE-ETC
            touch /usr/x 2>/dev/null && echo WROTE-USR
            touch /run/sandbox-rpc/sandbox-rpc 2>/dev/null && echo WROTE-AGENT
            mount -o remount,rw / 2>/dev/null && echo REMOUNTED
            cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q {SECRET} && echo SAW-SECRET
            env | grep -q {SECRET} && echo SAW-SECRET
            ps -o pid,comm | grep -c . ; ls /proc | grep -c '^[0-9]'
            grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status
            nc -w 2 127.0.0.1 {port} </dev/null && echo REACHED-HOST
            ip -o link 2>/dev/null | cut -d: -f2 | tr -d ' ' | tr '\\n' ,
            kill -9 1 2>/dev/null; kill -9 {os.getpid()} 2>/dev/null && echo SIGNALLED-HOST
        """)
    finally:
        listener.close()
    out = r["stdout"]
    for escape in ("WROTE-ETC", "WROTE-USR", "WROTE-AGENT", "REMOUNTED", "SAW-SECRET", "REACHED-HOST", "SIGNALLED-HOST"):
        assert escape not in out
    assert run(dk, sb, "echo alive")["stdout"] == "alive\n", "SIGKILL to the container's init is ignored"
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    assert out.rstrip().endswith("lo,"), "no network interface but loopback"
    assert os.getpid() not in [int(p) for p in run(dk, sb, "ls /proc | grep '^[0-9]'")["stdout"].split()]
    e = dk.err("commands.run", {"sandboxId": sb, "cmd": "id", "user": "root"})
    assert e["data"]["kind"] == "PermissionDenied"


def test_sandboxes_do_not_see_each_other(dk):
    first, second = create(dk), create(dk)
    run(dk, first, "echo mine > secret.txt")
    seen = run(dk, second, "ls -A /home/user; find / -name secret.txt 2>/dev/null; echo end")["stdout"]
    assert seen == "end\n"
    assert run(dk, first, "cat secret.txt")["stdout"] == "mine\n"


def test_kill_removes_the_container_and_ends_its_processes(dk):
    sb = create(dk)
    pid = dk.ok("commands.run", {"sandboxId": sb, "cmd": "sleep 300", "background": True})["pid"]
    assert containers_of(sb)
    assert [s["sandboxId"] for s in dk.ok("sandbox.list")["sandboxes"] if s["isolation"] == "docker"] == [sb]
    assert dk.ok("sandbox.kill", {"sandboxId": sb}, timeout=30) == {"killed": True}
    exit_params = dk.wait_exit_notification(pid, sandbox_id=sb).msg["params"]
    assert exit_params.get("error") == "SandboxKilled"
    assert containers_of(sb) == []
    assert dk.err("commands.run", {"sandboxId": sb, "cmd": "true"})["data"]["kind"] == "SandboxNotFound"


def wait_no_containers(sandbox_id: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while containers_of(sandbox_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return containers_of(sandbox_id)


def test_no_container_outlives_the_bridge(prerequisites, make_bridge):
    ended = make_bridge("--docker-agent", AGENT)
    sb_eof = create(ended)
    ended.close_stdin()
    assert ended.wait_exit(20) == 0
    assert containers_of(sb_eof) == [], "end of input removes the bridge's containers"

    killed = make_bridge("--docker-agent", AGENT)
    sb_killed = create(killed)
    pid = killed.ok("commands.run", {"sandboxId": sb_killed, "cmd": "sleep 300", "background": True})["pid"]
    assert pid > 0
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait_exit(10)
    # The exec stream closes, the agent sees the end of its input, kills its commands and then
    # the container's idle main process; the container stops and the engine removes it.
    assert wait_no_containers(sb_killed, 20) == [], "a SIGKILLed bridge's container goes by itself"


def test_the_next_bridge_sweeps_containers_of_bridges_that_are_gone(prerequisites, make_bridge):
    probe = make_bridge("--docker-agent", AGENT)
    sb = create(probe)
    label = json.loads(docker("inspect", containers_of(sb)[0]))[0]["Config"]["Labels"]["sandbox-rpc.bridge"]
    boot, pidns, _, _ = label.split("/")
    gone = f"{boot}/{pidns}/999999/1"  # this boot and PID namespace, a bridge that does not run
    elsewhere = f"{boot}/4026530000/999999/1"  # a PID namespace we cannot see into: not ours to judge
    left = docker("run", "-d", "--network", "none", "--label", f"sandbox-rpc.bridge={gone}",
                  "--label", "sandbox-rpc.sandbox=leftover", IMAGE, "sleep", "300").strip()
    foreign = docker("run", "-d", "--network", "none", "--label", f"sandbox-rpc.bridge={elsewhere}",
                     "--label", "sandbox-rpc.sandbox=foreign", IMAGE, "sleep", "300").strip()
    try:
        sweeper = make_bridge("--docker-agent", AGENT)
        assert "docker" in sweeper.ok("initialize")["capabilities"]["isolation"]
        assert wait_no_containers("leftover", 20) == []
        assert containers_of("foreign") != [], "a bridge in another PID namespace keeps its containers"
        assert containers_of(sb), "a live bridge keeps its containers"
    finally:
        docker("rm", "-f", left, foreign, check=False)


def test_a_container_removed_from_outside_ends_its_sandbox(dk):
    sb = create(dk)
    run_id = dk.request("commands.run", {"sandboxId": sb, "cmd": "sleep 300"})
    time.sleep(0.5)
    docker("rm", "-f", containers_of(sb)[0])
    error = dk.wait_response(run_id, 20)["error"]
    assert error["data"]["kind"] == "SandboxKilled"
    dk.wait_for(lambda m: m.get("method") == "sandbox.exit" and m["params"]["sandboxId"] == sb, timeout=20, what="sandbox.exit")
    assert dk.err("commands.run", {"sandboxId": sb, "cmd": "true"})["data"]["kind"] == "SandboxNotFound"
    assert dk.ok("ping") == {}


def test_get_host_reaches_a_server_inside(dk):
    for network in (False, True):
        sb = create(dk, network=network)
        dk.ok("files.write", {"sandboxId": sb, "path": "www/index.html", "content": f"network={network}\n"})
        dk.ok("commands.run", {"sandboxId": sb, "cmd": "httpd -f -p 8000 -h www", "background": True})
        host = dk.ok("sandbox.getHost", {"sandboxId": sb, "port": 8000})["host"]
        body = None
        deadline = time.monotonic() + 10
        while body is None:
            try:
                body = urllib.request.urlopen(f"http://{host}/index.html", timeout=2).read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert body == f"network={network}\n"
        dk.ok("sandbox.kill", {"sandboxId": sb}, timeout=30)
    options = json.loads(docker("network", "inspect", "sandbox-rpc"))[0]["Options"]
    assert options.get("com.docker.network.bridge.enable_icc") == "false", "sandboxes with network do not reach each other"


def test_limits_map_to_the_container(dk):
    created = dk.ok("sandbox.create", {"isolation": "docker", "limits": {"memoryBytes": 64 << 20, "pids": 32}}, timeout=60)
    sb = created["sandboxId"]
    assert created["limits"] == {"memoryBytes": "cgroup", "pids": "cgroup"}
    info = json.loads(docker("inspect", containers_of(sb)[0]))[0]["HostConfig"]
    assert (info["Memory"], info["PidsLimit"]) == (64 << 20, 32)
    r = run(dk, sb, "for i in {1..60}; do sleep 5 & done")
    assert r["exitCode"] != 0 and "fork: Resource temporarily unavailable" in r["stderr"].replace("retry: ", "")


def test_envs_timeout_and_cpu_time(dk):
    created = dk.ok("sandbox.create", {"isolation": "docker", "envs": {"GREETING": "hello there"}, "timeout": 30,
                                       "limits": {"cpuSeconds": 1}}, timeout=60)
    sb = created["sandboxId"]
    assert created["limits"] == {"cpuSeconds": "rlimit"}
    assert run(dk, sb, "echo $GREETING")["stdout"] == "hello there\n"
    spin = run(dk, sb, "while :; do :; done")
    assert (spin["exitCode"], spin.get("signal")) == (152, "SIGXCPU"), "CPU time per command is bounded"
    dk.ok("sandbox.setTimeout", {"sandboxId": sb, "timeout": 0.5})
    dk.wait_for(lambda m: m.get("method") == "sandbox.exit" and m["params"]["sandboxId"] == sb, timeout=20, what="sandbox.exit")
    deadline = time.monotonic() + 10
    while containers_of(sb) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert containers_of(sb) == [], "a sandbox whose timeout passed leaves no container"


def test_docker_as_the_default_isolation_with_a_relative_agent_path(prerequisites, make_bridge, tmp_path):
    relative = os.path.relpath(AGENT, tmp_path)  # the bridge runs in tmp_path
    bridge = make_bridge("--isolation", "docker", "--docker-agent", relative)
    assert bridge.run("id -un; hostname")["stdout"] == "user\nsandbox\n"
    [default] = bridge.ok("sandbox.list")["sandboxes"]
    assert (default["sandboxId"], default["isolation"]) == ("default", "docker")
    assert bridge.ok("sandbox.kill", {}, timeout=30) == {"killed": True}


def test_a_missing_image_is_invalid_params(dk):
    e = dk.err("sandbox.create", {"isolation": "docker", "image": "sandbox-rpc-no-such-image:1"}, timeout=30)
    assert e["data"]["kind"] == "InvalidParams" and "no such image" in e["message"]


def test_image_belongs_to_docker_sandboxes_and_cwd_does_not(dk):
    e = dk.err("sandbox.create", {"isolation": "none", "image": IMAGE})
    assert e["data"]["kind"] == "InvalidParams" and e["message"].startswith("invalid params: image: only docker sandboxes")
    e = dk.err("sandbox.create", {"isolation": "docker", "cwd": "/tmp"})
    assert e["data"]["kind"] == "Unsupported" and "cwd" in e["message"]


def test_pty_in_a_container(dk):
    sb = create(dk)
    pid = dk.ok("pty.create", {"sandboxId": sb, "cols": 80, "rows": 24})["pid"]
    import base64
    dk.ok("pty.sendInput", {"sandboxId": sb, "pid": pid, "data": base64.b64encode(b"stty size; exit 7\n").decode()})
    record = dk.wait_exit_notification(pid, timeout=20, sandbox_id=sb)
    assert record.msg["params"]["exitCode"] == 7
    out = b"".join(base64.b64decode(n["params"]["data"]) for n in dk.notifications("pty.output", pid, sb))
    assert b"24 80" in out


@pytest.fixture
def swarm(prerequisites):
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    joined_here = False
    if state != "active":
        docker("swarm", "init", "--listen-addr", "127.0.0.1:2377", "--advertise-addr", "127.0.0.1")
        joined_here = True
    yield
    if joined_here:
        docker("swarm", "leave", "--force", check=False)


def test_swarm_places_a_sandbox_as_a_one_replica_service(swarm, make_bridge):
    bridge = make_bridge("--docker-agent", AGENT, "--docker-swarm")
    assert "docker" in bridge.ok("initialize")["capabilities"]["isolation"]
    sb = create(bridge, limits={"memoryBytes": 128 << 20})
    services = json.loads(docker("service", "ls", "--filter", f"label=sandbox-rpc.sandbox={sb}", "--format", "{{json .}}") or "null")
    assert services and services["Replicas"] == "1/1"
    r = run(bridge, sb, "id -un; echo $HOME; echo hi from swarm; ip -o link | cut -d: -f2 | tr -d ' '")
    assert r["stdout"] == "user\n/home/user\nhi from swarm\nlo\n"
    assert bridge.ok("sandbox.kill", {"sandboxId": sb}, timeout=30) == {"killed": True}
    assert docker("service", "ls", "-q", "--filter", f"label=sandbox-rpc.sandbox={sb}").strip() == ""
