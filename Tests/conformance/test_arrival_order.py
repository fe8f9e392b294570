"""Requests on one sandbox take effect in the order they arrive, although they are handled
concurrently (schema/README.md, "Arrival order"). Each test sends its requests in one write,
without waiting for answers, as a pipelining client does; each failed before arrival order."""
import json
import os

import pytest

import test_docker
from conftest import IN_CI


def pipeline(bridge, messages) -> None:
    """Writes all messages in one go; returns once they are on the bridge's stdin."""
    for message in messages:
        bridge.register(message)
    bridge.send_bytes(b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in messages))


def request(bridge, method, params):
    return {"jsonrpc": "2.0", "id": bridge.new_id(), "method": method, "params": params}


@pytest.fixture(params=["none", "bwrap", "docker"])
def sandbox(request, make_bridge):
    """A bridge and a sandbox of each isolation: ordering holds through an agent too."""
    if request.param == "docker":
        reason = test_docker.missing_prerequisite()
        if reason:
            if IN_CI:
                pytest.fail(reason + " (CI=true: .ci/run installs and starts Docker)", pytrace=False)
            pytest.skip(reason)
        bridge = make_bridge("--docker-agent", test_docker.AGENT)
    else:
        bridge = make_bridge()
    if request.param not in bridge.ok("initialize")["capabilities"]["isolation"]:
        reason = f"{request.param} isolation is not available on this machine"
        if IN_CI:
            pytest.fail(reason + " (CI=true: .ci/run installs bubblewrap and Docker)", pytrace=False)
        pytest.skip(reason)
    created = bridge.ok("sandbox.create", {"isolation": request.param}, timeout=60)
    return bridge, created["sandboxId"]


def test_killing_default_then_running_lands_on_a_new_default_every_time(bridge):
    for round in range(20):
        bridge.run(f"echo {round} > marker")
        kill = request(bridge, "sandbox.kill", {})
        run = request(bridge, "commands.run", {"cmd": "ls"})
        pipeline(bridge, [kill, run])
        assert bridge.wait_response(kill["id"])["result"] == {"killed": True}
        response = bridge.wait_response(run["id"], 20)
        assert response.get("result", {}).get("stdout") == "", f"round {round}: {response}"


def test_stdin_chunks_sent_back_to_back_arrive_in_order(sandbox):
    bridge, sb = sandbox
    pid = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "cat", "background": True, "stdin": True})["pid"]
    chunks = [f"chunk {i:04d}\n" for i in range(300)]
    messages = []
    for i, chunk in enumerate(chunks):
        params = {"sandboxId": sb, "pid": pid, "data": chunk}
        # Every third one a notification: fire-and-forget input is ordered the same way.
        messages.append(request(bridge, "commands.sendStdin", params) if i % 3 else
                        {"jsonrpc": "2.0", "method": "commands.sendStdin", "params": params})
    close = request(bridge, "commands.closeStdin", {"sandboxId": sb, "pid": pid})
    pipeline(bridge, messages + [close])
    assert bridge.wait_response(close["id"]) == {"jsonrpc": "2.0", "id": close["id"], "result": {}}
    result = bridge.ok("commands.wait", {"sandboxId": sb, "pid": pid}, timeout=20)
    assert result["exitCode"] == 0
    assert bridge.output_text(pid) == "".join(chunks)


def test_appends_then_read_see_every_write_in_order(sandbox):
    bridge, sb = sandbox
    writes = [request(bridge, "files.write", {"sandboxId": sb, "path": "log.txt", "content": f"line {i}\n", "append": i > 0})
              for i in range(100)]
    read = request(bridge, "files.read", {"sandboxId": sb, "path": "log.txt"})
    pipeline(bridge, writes + [read])
    assert bridge.wait_response(read["id"], 20)["result"]["content"] == "".join(f"line {i}\n" for i in range(100))


def test_a_command_waiting_for_its_exit_does_not_hold_back_the_next_request(sandbox):
    bridge, sb = sandbox
    slow = request(bridge, "commands.run", {"sandboxId": sb, "cmd": "sleep 2; echo slow"})
    fast = request(bridge, "commands.run", {"sandboxId": sb, "cmd": "echo fast"})
    pipeline(bridge, [slow, fast])
    assert bridge.wait_response(fast["id"], 1.5)["result"]["stdout"] == "fast\n"
    assert bridge.wait_response(slow["id"], 20)["result"]["stdout"] == "slow\n"
    order = [r.msg.get("id") for r in bridge.records if isinstance(r.msg, dict) and r.msg.get("id") in (slow["id"], fast["id"])]
    assert order == [fast["id"], slow["id"]]


def test_input_stuck_in_a_full_pipe_does_not_hold_back_the_next_request(sandbox):
    bridge, sb = sandbox
    pid = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "sleep 30", "background": True, "stdin": True})["pid"]
    big = request(bridge, "commands.sendStdin", {"sandboxId": sb, "pid": pid, "data": "x" * (1 << 20)})
    listing = request(bridge, "commands.list", {"sandboxId": sb})
    pipeline(bridge, [big, listing])
    assert [p["pid"] for p in bridge.wait_response(listing["id"], 5)["result"]["processes"]] == [pid]
    assert bridge.ok("commands.kill", {"sandboxId": sb, "pid": pid}) == {"killed": True}
    error = bridge.wait_response(big["id"], 10)["error"]
    assert error["data"]["kind"] in ("ProcessNotRunning", "StdinClosed")


def test_other_sandboxes_are_not_held_back(make_bridge):
    bridge = make_bridge()
    other = bridge.ok("sandbox.create", {"isolation": "none"})["sandboxId"]
    pid = bridge.ok("commands.run", {"cmd": "sleep 30", "background": True, "stdin": True})["pid"]
    big = request(bridge, "commands.sendStdin", {"pid": pid, "data": "x" * (1 << 20)})
    elsewhere = request(bridge, "commands.run", {"sandboxId": other, "cmd": "echo elsewhere"})
    ping = request(bridge, "ping", {})
    pipeline(bridge, [big, elsewhere, ping])
    assert bridge.wait_response(ping["id"], 5)["result"] == {}
    assert bridge.wait_response(elsewhere["id"], 5)["result"]["stdout"] == "elsewhere\n"
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    assert "error" in bridge.wait_response(big["id"], 10)


def test_requests_of_a_batch_take_effect_in_array_order(bridge):
    pid = bridge.ok("commands.run", {"cmd": "cat", "background": True, "stdin": True})["pid"]
    batch = [request(bridge, "commands.sendStdin", {"pid": pid, "data": f"{i}\n"}) for i in range(50)]
    batch.append(request(bridge, "commands.closeStdin", {"pid": pid}))
    bridge.register(batch)
    bridge.send_bytes(json.dumps(batch).encode() + b"\n")
    bridge.wait_response(batch[-1]["id"])
    bridge.ok("commands.wait", {"pid": pid}, timeout=20)
    assert bridge.output_text(pid) == "".join(f"{i}\n" for i in range(50))
