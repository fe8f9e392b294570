"""Fuzzing: random params for every method, random ids and envelopes, hostile byte lines.

After every case the bridge must answer `ping`, every request with a valid id must be answered
exactly once (the harness counts answers per id), and everything on stdout must be a schema-valid
protocol line (the harness validates each line against schema/; a -32603 Internal is a violation).

Sizes (cases): short form ≥ 2,000 in all, long form ≥ 100,000; see README.md for the variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import fuzz_strategies as fs
import reliability_harness as rh
from test_findings import known_crash, known_finding

PER_METHOD = rh.size("RELIABILITY_FUZZ_PER_METHOD", 60, 2_500)  # x 28 methods
MIXED = rh.size("RELIABILITY_FUZZ_MIXED", 600, 20_000)
ENVELOPES = rh.size("RELIABILITY_FUZZ_ENVELOPES", 400, 10_000)
BYTE_LINES = rh.size("RELIABILITY_FUZZ_BYTES", 400, 10_000)
FRESH_BRIDGE_EVERY = 3_000  # cases; each bridge's end is checked too (clean exit, nothing left)
PING_TIMEOUT = 20.0
CASE_TIMEOUT = 20.0
SHRINK = os.environ.get("RELIABILITY_SHRINK") == "1"
STRICT = os.environ.get("RELIABILITY_STRICT") == "1"


def fuzz_settings(n: int):
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    return settings(max_examples=n, deadline=None, database=None, phases=phases, print_blob=True,
                    suppress_health_check=list(HealthCheck))


class FuzzSession:
    """A bridge under fuzz, with what it has seen (pids, sandboxes, ids) for later cases to aim at."""

    def __init__(self, start_bridge, kind: str, scratch: str, args: tuple = ()):
        self.start_bridge = start_bridge
        self.kind = kind
        self.scratch = scratch
        self.args = args
        self.cases = 0
        self.serial = 0
        self.bridge = None
        self._new_bridge()

    # ------------------------------------------------------------------ bridge lifetime
    def _new_bridge(self) -> None:
        if self.bridge is not None:
            self._retire(self.bridge)
        b = self.start_bridge(*self.args)
        b.retain_output = False  # output notifications are validated and counted, not kept
        assert b.ok("ping", timeout=10) == {}
        self.bridge = b
        self.pids: list[int] = []
        self.sandboxes: list[str] = ["default"]
        self.sandbox_origin: dict[str, str] = {}
        self.ids: list[Any] = []
        self.pending: dict[tuple, str] = {}  # waits that may legitimately still run
        self.cases_on_bridge = 0
        self._seed_processes()

    def _seed_processes(self) -> None:
        """Live targets for pid-taking methods: background runs with stdin, a pty, an exited run, a
        second sandbox."""
        b = self.bridge
        for _ in range(2):
            self.pids.append(b.ok("commands.run", {"cmd": "timeout 20 cat >/dev/null", "background": True,
                                                   "stdin": True})["pid"])
        self.pids.append(b.ok("commands.run", {"cmd": "sleep 20", "background": True, "stream": False})["pid"])
        self.pids.append(b.ok("commands.run", {"cmd": "echo done"})["pid"])
        try:
            self.pids.append(b.ok("pty.create", {"cmd": "sleep 20", "cols": 80, "rows": 24})["pid"])
        except rh.RpcError:
            pass  # no pty here: pty cases get errors, which is fine
        self.sandboxes.append(b.ok("sandbox.create", {"metadata": {"fuzz": "yes"}})["sandboxId"])

    def _retire(self, b) -> None:
        """End a bridge that has been fuzzed: it exits 0 at EOF and leaves no process behind."""
        self.drain_pending(b)
        if b.proc.poll() is not None:
            return
        family = rh.descendants(b.pid)
        b.close_stdin()
        code = b.wait_exit(15)
        assert code == 0, f"bridge exited {code} at the end of input after fuzzing"
        left = rh.figures.leak_check("processes left by a fuzzed bridge", rh.wait_gone(family, 10))
        assert left == [], f"processes left after the fuzzed bridge exited: {left}"

    def drain_pending(self, b=None) -> None:
        """Kill every sandbox (answering pending waits) and check that no request stays unanswered."""
        b = b or self.bridge
        if not self.pending or b.proc.poll() is not None:
            return
        for sid in set(self.sandboxes):
            self.kill_sandbox(b, sid)
        lost = []
        for key, describe in self.pending.items():
            ident = json.loads(key[1]) if key[0] == "json" else key[1]
            try:
                b.wait_response(ident, 20)
            except AssertionError:
                lost.append(describe)
        self.pending.clear()
        assert not lost, f"{len(lost)} requests never answered, e.g.: {lost[:3]}"

    def finish(self) -> None:
        self._retire(self.bridge)
        assert self.cases > 0

    # ------------------------------------------------------------------ cases
    def resolve(self, value: Any) -> Any:
        if isinstance(value, fs.Known):
            pool = {"pid": self.pids, "sandbox": self.sandboxes, "id": self.ids}[value.kind]
            if not pool:
                return value.index
            return pool[value.index % len(pool)]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def next_id(self) -> str:
        self.serial += 1
        return f"fz-{self.serial}"

    def run_case(self, payload: bytes, expect: list = (), may_block: bool = False, register: bool = True) -> list[dict]:
        """Send one case, then a ping. Returns the responses to `expect` (ids that must be answered)."""
        if self.bridge.proc.poll() is not None or self.bridge.eof:
            self._new_bridge()  # the case that killed it has already failed
        elif self.cases_on_bridge >= FRESH_BRIDGE_EVERY:
            self._new_bridge()
        b = self.bridge
        describe = payload[:3000].decode("utf-8", "backslashreplace") + (" …" if len(payload) > 3000 else "")
        v0 = len(b.violations)
        if register:
            rh.register_requests(b, payload)
        b.send_bytes(payload + b"\n")
        ping = f"ping-after-{self.serial}-{self.cases}"
        b.request("ping", id=ping)
        try:
            b.wait_response(ping, PING_TIMEOUT)
        except AssertionError as exc:
            crash = None if STRICT else known_crash(payload)
            if crash and self._died(b):  # an open finding (test_findings.py): go on afresh
                rh.figures.known_finding(crash)
                b.join_reader()
                with b.cond:
                    del b.violations[v0:]
                self._new_bridge()
                return []
            raise AssertionError(f"the bridge stopped answering ping after the case:\n{describe}\n{exc}") from None
        answers = []
        for ident in expect:
            try:
                answers.append(b.wait_response(ident, 2.0 if may_block else CASE_TIMEOUT))
            except AssertionError:
                crash = None if STRICT else known_crash(payload)
                if crash and self._died(b):  # died after answering the ping
                    rh.figures.known_finding(crash)
                    b.join_reader()
                    with b.cond:
                        del b.violations[v0:]
                    self._new_bridge()
                    return []
                if not may_block:
                    raise AssertionError(f"no answer to id {ident!r} within {CASE_TIMEOUT}s for the case:\n"
                                         f"{describe}") from None
                self.pending[("json", json.dumps(ident))] = describe
        if len(b.violations) > v0:
            self._check_violations(b, v0, describe, payload)
        self._learn(answers, describe)
        self.cases += 1
        self.cases_on_bridge += 1
        rh.figures.fuzzed(self.kind)
        return answers

    @staticmethod
    def _died(b) -> bool:
        """Whether the bridge has ended (stdout closed and the process gone, or going: a Swift crash
        prints its backtrace first)."""
        if not b.eof and b.proc.poll() is None:
            return False
        try:
            b.proc.wait(15)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _check_violations(self, b, v0: int, describe: str, payload: bytes) -> None:
        """Fail on new violations, except instances of an open finding (test_findings.py), which are
        counted instead (all fail with RELIABILITY_STRICT=1)."""
        with b.cond:
            new = b.violations[v0:]
            known = [] if STRICT else [v for v in new if known_finding(v, payload)]
            if known and len(known) == len(new):
                del b.violations[v0:]
        for v in known:
            rh.figures.known_finding(known_finding(v, payload))
        unknown = [v for v in new if v not in known]
        if unknown:
            raise AssertionError("stdout violations after the case:\n" + describe + "\n" + "\n".join(unknown[:10]))

    def _learn(self, answers: list[dict], describe: str) -> None:
        for resp in answers:
            result = resp.get("result")
            if isinstance(result, dict):
                if isinstance(result.get("pid"), int):
                    self.pids.append(result["pid"])
                    del self.pids[:-40]
                if isinstance(result.get("sandboxId"), str):
                    self.sandboxes.append(result["sandboxId"])
                    self.sandbox_origin[result["sandboxId"]] = describe
            self.ids.append(resp.get("id"))
            del self.ids[:-40]
        extra = [s for s in dict.fromkeys(self.sandboxes) if s != "default"]
        if len(extra) > 8:  # keep the number of sandboxes (and keepers) bounded
            for sid in extra[:-8]:
                self.kill_sandbox(self.bridge, sid)
                self.sandboxes = [s for s in self.sandboxes if s != sid]

    def kill_sandbox(self, b, sid: str) -> None:
        """sandbox.kill, which must be answered (finding F12 was a sandbox that could not be killed)."""
        try:
            b.call("sandbox.kill", {"sandboxId": sid}, timeout=15)
        except AssertionError as exc:
            origin = self.sandbox_origin.get(sid) or ""
            raise AssertionError(f"sandbox.kill of {sid} unanswered; it was made by:\n{origin}\n{exc}") from None

    def request_case(self, method: str, params: Any, notify: bool = False) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        rid = None
        if method in fs.REQUEST_METHODS and not notify:
            rid = self.next_id()
            msg["id"] = rid
        if params is not None:
            msg["params"] = params
        payload = rh.dumps(msg)
        self.run_case(payload, expect=[rid] if rid else [], may_block=method == "commands.wait")


@pytest.fixture
def scratch(tmp_path):
    path = tmp_path / "scratch"
    (path / "a" / "b").mkdir(parents=True)
    return str(path)


# --------------------------------------------------------------------------- params of every method
@pytest.mark.parametrize("method", fs.ALL_METHODS)
def test_random_params_of_every_method(method, start_bridge, scratch):
    session = FuzzSession(start_bridge, "params", scratch)

    @fuzz_settings(PER_METHOD)
    @seed(rh.seed() + sum(method.encode()))
    @given(params=fs.params_strategy(method), prefix=st.integers(0, 50), notify=st.integers(0, 19))
    def case(params, prefix, notify):
        p = fs.defuse(method, session.resolve(params), prefix, scratch)
        session.request_case(method, p, notify=notify == 0)

    case()
    session.finish()


def test_random_methods_mixed_on_one_bridge(start_bridge, scratch):
    """Methods in random order on one bridge, aimed at the pids and sandboxes earlier cases made."""
    session = FuzzSession(start_bridge, "mixed", scratch)

    @fuzz_settings(MIXED)
    @seed(rh.seed() + 1)
    @given(data=st.data(), method=st.sampled_from(fs.ALL_METHODS), prefix=st.integers(0, 50))
    def case(data, method, prefix):
        params = data.draw(fs.params_strategy(method))
        session.request_case(method, fs.defuse(method, session.resolve(params), prefix, scratch))

    case()
    session.finish()


# --------------------------------------------------------------------------- ids and envelopes
def test_random_ids_and_envelopes(start_bridge, scratch):
    """Requests, notifications and malformed envelopes (alone and in batches) with random ids written
    as JSON text; every well-formed request is answered (as often as it was sent), a numeric id with
    its exact text."""
    session = FuzzSession(start_bridge, "envelopes", scratch)

    @fuzz_settings(ENVELOPES)
    @seed(rh.seed() + 2)
    @given(line=fs.envelopes())
    def case(line):
        text, idents = line
        b = session.bridge

        def answered(ident) -> int:
            entry = b.table.get(ident.value)
            return entry["answered"] if entry else 0

        before = {ident.text: answered(ident) for ident in idents}
        session.run_case(text.encode())
        if session.bridge is not b:
            return  # the bridge was replaced before this case: nothing to compare with
        for ident in idents:
            key = rh.schema_check.id_key(ident.value)
            rh.wait_until(lambda: answered(ident) > before[ident.text], CASE_TIMEOUT,
                          f"the answer to id {ident.text} of {text[:2000]}")
            if ident.is_number:
                raws = [r.raw for r in b.responses[key]]
                assert any(f'"id":{ident.text}'.encode() in raw for raw in raws), \
                    f"id {ident.text} not echoed as the same JSON text: {raws[-1][:300]!r}"

    case()
    session.finish()


# --------------------------------------------------------------------------- hostile byte lines
def test_random_byte_lines(start_bridge, scratch):
    """Random bytes, mutated messages (flipped bits, invalid UTF-8, NULs, stray newlines), nesting up to
    100,000 levels, numbers of 10,000 digits: the bridge answers what it can and keeps serving."""
    session = FuzzSession(start_bridge, "bytes", scratch)

    @fuzz_settings(BYTE_LINES)
    @seed(rh.seed() + 3)
    @given(line=fs.byte_lines())
    def case(line):
        session.serial += 1  # the templates' ids, made unique: answers to reused ids could not be told apart
        session.run_case(line.replace(b"@ID@", f"b{session.serial}".encode()))

    case()
    session.finish()
