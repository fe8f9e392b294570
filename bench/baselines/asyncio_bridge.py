#!/usr/bin/env python3
"""Baseline bridge: what a competent Python engineer would write with asyncio.

Speaks the subset of the sandbox-rpc wire protocol (shared/PROTOCOL.md) that bench/run uses:
initialize, ping, sandbox.create (isolation "none" only), sandbox.kill, commands.run (foreground
with or without stream, background with stream), commands.kill, commands.wait, shutdown.
EOF on stdin: in-flight requests get --eof-grace seconds (default 3), then everything is killed
and the process exits 0.

Deliberately plain: stdlib json, asyncio.create_subprocess_exec("bash", "-c", cmd,
start_new_session=True), one Task per request, 64 KiB reads, `await drain()` for backpressure.
It is a yardstick, not a product.
"""
import argparse
import asyncio
import codecs
import json
import os
import pwd
import resource
import shutil
import signal
import sys
import tempfile
import time

DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
READ_SIZE = 65536
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER = pwd.getpwuid(os.getuid()).pw_name


class RpcError(Exception):
    def __init__(self, code, message, data):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def invalid_params(field, reason):
    return RpcError(-32602, f"invalid params: {field}: {reason}",
                    {"kind": "InvalidParams", "field": field, "reason": reason})


class Kept:
    """Output kept for wait: the first ceil(M/2) and the last floor(M/2) bytes."""

    def __init__(self, limit):
        self.limit = limit
        self.head_max = (limit + 1) // 2
        self.tail_max = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data):
        if len(self.head) < self.head_max:
            n = self.head_max - len(self.head)
            self.head += data[:n]
            data = data[n:]
        if not data:
            return
        if self.tail_max == 0:
            self.dropped += len(data)
            return
        self.tail += data
        extra = len(self.tail) - self.tail_max
        if extra > self.tail_max:  # trim in amortized steps
            del self.tail[:extra]
            self.dropped += extra

    def finish(self):
        extra = len(self.tail) - self.tail_max
        if extra > 0:
            del self.tail[:extra]
            self.dropped += extra
        return bytes(self.head + self.tail), self.dropped


class Proc:
    def __init__(self, sandbox, proc, cmd, stream, max_output):
        self.sandbox = sandbox
        self.proc = proc
        self.pid = proc.pid
        self.cmd = cmd
        self.stream = stream
        self.kept = {"stdout": Kept(max_output), "stderr": Kept(max_output)}
        self.done = asyncio.get_running_loop().create_future()
        self.timed_out = False
        self.killed_by_sandbox = False

    def result(self):
        res = {"pid": self.pid}
        truncated = {}
        for name in ("stdout", "stderr"):
            data, dropped = self.kept[name].finish()
            res[name] = data.decode("utf-8", "replace")
            truncated[name] = dropped
        rc = self.proc.returncode
        if rc is not None and rc < 0:
            res["exitCode"] = 128 - rc
            res["signal"] = signal.Signals(-rc).name
        else:
            res["exitCode"] = rc
        if truncated["stdout"] or truncated["stderr"]:
            res["truncated"] = truncated
        return res


class BlockingWriter:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data)
        self.f.flush()

    async def drain(self):
        pass


class Sandbox:
    def __init__(self, sandbox_id, home):
        self.id = sandbox_id
        self.home = home
        self.procs = {}
        self.envs = {}


class Bridge:
    def __init__(self, eof_grace):
        self.eof_grace = eof_grace
        self.writer = None
        self.sandboxes = {}
        self.tasks = set()
        self.counter = 0
        self.shutting_down = False
        self.base_dir = tempfile.mkdtemp(prefix="asyncio-bridge-")

    # ---- output -------------------------------------------------------------------------------
    async def send(self, msg):
        self.writer.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        await self.writer.drain()

    async def respond(self, mid, result):
        await self.send({"jsonrpc": "2.0", "id": mid, "result": result})

    async def respond_error(self, mid, err):
        await self.send({"jsonrpc": "2.0", "id": mid,
                         "error": {"code": err.code, "message": err.message, "data": err.data}})

    async def notify(self, method, params):
        await self.send({"jsonrpc": "2.0", "method": method, "params": params})

    # ---- sandboxes ----------------------------------------------------------------------------
    def make_sandbox(self, sandbox_id=None):
        if sandbox_id is None:
            self.counter += 1
            sandbox_id = f"sbx-{self.counter}"
        home = os.path.join(self.base_dir, sandbox_id)
        os.makedirs(home, exist_ok=True)
        sb = Sandbox(sandbox_id, home)
        self.sandboxes[sandbox_id] = sb
        return sb

    def sandbox(self, params):
        sid = params.get("sandboxId")
        if sid is None:
            sb = self.sandboxes.get("default")
            return sb if sb is not None else self.make_sandbox("default")
        sb = self.sandboxes.get(sid)
        if sb is None:
            raise RpcError(-32001, f"sandbox not found: {sid}",
                           {"kind": "SandboxNotFound", "sandboxId": sid})
        return sb

    def find_proc(self, params):
        sb = self.sandbox(params)
        pid = params.get("pid")
        if not isinstance(pid, int):
            raise invalid_params("pid", "must be an integer")
        p = sb.procs.get(pid)
        if p is None:
            raise RpcError(-32002, f"process not found: {pid}",
                           {"kind": "ProcessNotFound", "pid": pid})
        return p

    def env_for(self, sb, envs):
        env = {"PATH": PATH, "HOME": sb.home, "USER": USER, "LANG": "C.UTF-8", "TERM": "dumb",
               "SHELL": "/bin/bash", "PAGER": "cat", "GIT_PAGER": "cat",
               "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}
        env.update(sb.envs)
        env.update(envs or {})
        return env

    # ---- processes ----------------------------------------------------------------------------
    async def pump(self, p, name, reader):
        kept = p.kept[name]
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            kept.add(data)
            if p.stream:
                text = decoder.decode(data)
                if text:
                    await self.notify("commands.output", {
                        "sandboxId": p.sandbox.id, "pid": p.pid, "stream": name,
                        "data": text, "timestamp": time.time()})
        if p.stream:
            text = decoder.decode(b"", True)
            if text:
                await self.notify("commands.output", {
                    "sandboxId": p.sandbox.id, "pid": p.pid, "stream": name,
                    "data": text, "timestamp": time.time()})

    async def supervise(self, p, timeout, background):
        pumps = asyncio.gather(self.pump(p, "stdout", p.proc.stdout),
                               self.pump(p, "stderr", p.proc.stderr))
        try:
            if timeout:
                await asyncio.wait_for(asyncio.shield(p.proc.wait()), timeout)
            else:
                await p.proc.wait()
        except asyncio.TimeoutError:
            p.timed_out = True
            self.killpg(p.pid, signal.SIGKILL)
            await p.proc.wait()
        await pumps
        result = p.result()
        if p.stream:  # also for a foreground run: before its response
            params = {"sandboxId": p.sandbox.id, "pid": p.pid, "exitCode": result["exitCode"]}
            if "signal" in result:
                params["signal"] = result["signal"]
            if p.timed_out:
                params["error"] = "Timeout"
            elif p.killed_by_sandbox:
                params["error"] = "SandboxKilled"
            await self.notify("commands.exit", params)
        p.done.set_result(result)
        return result

    @staticmethod
    def killpg(pid, sig):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    async def commands_run(self, params, mid):
        cmd = params.get("cmd")
        if not isinstance(cmd, str):
            raise invalid_params("cmd", "must be a string")
        sb = self.sandbox(params)
        background = bool(params.get("background", False))
        stream = bool(params.get("stream", background))
        timeout = params.get("timeout", 0 if background else 60)
        max_output = params.get("maxOutputBytes", DEFAULT_MAX_OUTPUT)
        cwd = params.get("cwd")
        cwd = sb.home if cwd is None else os.path.join(sb.home, cwd)
        if not os.path.isdir(cwd):
            raise RpcError(-32005, f"no such directory: {cwd}", {"kind": "FileNotFound", "path": cwd})
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", cmd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, cwd=cwd, env=self.env_for(sb, params.get("envs")))
        p = Proc(sb, proc, cmd, stream, max_output)
        sb.procs[p.pid] = p
        if self.shutting_down:  # spawned while shutdown was killing everything
            self.killpg(p.pid, signal.SIGKILL)
        if len(sb.procs) > 1024 + 4096:
            self.forget_exited(sb)
        if background:
            # The {pid} response goes out before any notification of that pid.
            await self.respond(mid, {"pid": p.pid})
            self.spawn_task(self.supervise(p, timeout, True))
            return None
        result = await self.supervise(p, timeout, False)
        if p.timed_out:
            data = {"kind": "Timeout"}
            data.update(result)
            raise RpcError(-32003, "command timed out", data)
        return result

    @staticmethod
    def forget_exited(sb):
        exited = [pid for pid, p in sb.procs.items() if p.done.done()]
        for pid in exited[:-1024]:
            del sb.procs[pid]

    async def commands_kill(self, params):
        p = self.find_proc(params)
        name = params.get("signal", "SIGKILL")
        try:
            sig = signal.Signals[name]
        except KeyError:
            raise invalid_params("signal", f"unknown signal {name!r}")
        if p.proc.returncode is not None:
            return {"killed": False}
        self.killpg(p.pid, sig)
        if sig == signal.SIGKILL:
            await p.proc.wait()
        return {"killed": True}

    async def commands_wait(self, params):
        p = self.find_proc(params)
        timeout = params.get("timeout", 0)
        try:
            if timeout:
                return await asyncio.wait_for(asyncio.shield(p.done), timeout)
            return await p.done
        except asyncio.TimeoutError:
            raise RpcError(-32003, "wait timed out",
                           {"kind": "Timeout", "pid": p.pid, "stdout": "", "stderr": "",
                            "exitCode": None})

    async def sandbox_create(self, params):
        isolation = params.get("isolation", "auto")
        if isolation not in ("auto", "none"):
            raise RpcError(-32011, f"isolation {isolation!r} is not available",
                           {"kind": "Unsupported", "reason": f"isolation {isolation}"})
        sb = self.make_sandbox()
        sb.envs = dict(params.get("envs") or {})
        return {"sandboxId": sb.id, "isolation": "none", "home": sb.home}

    async def sandbox_kill(self, params):
        sid = params.get("sandboxId", "default")
        sb = self.sandboxes.pop(sid, None)
        if sb is None:
            return {"killed": False}
        await self.kill_sandbox(sb)
        return {"killed": True}

    async def kill_sandbox(self, sb):
        running = [p for p in sb.procs.values() if p.proc.returncode is None]
        for p in running:
            p.killed_by_sandbox = True
            self.killpg(p.pid, signal.SIGKILL)
        for p in running:
            await p.proc.wait()

    async def kill_all(self):
        for sb in list(self.sandboxes.values()):
            await self.kill_sandbox(sb)

    # ---- dispatch -----------------------------------------------------------------------------
    async def handle(self, msg):
        mid = msg.get("id")
        method = msg.get("method")
        is_request = "id" in msg
        params = msg.get("params") or {}
        try:
            if not isinstance(method, str):
                raise RpcError(-32600, "invalid request",
                               {"kind": "InvalidRequest", "reason": "method must be a string"})
            if not isinstance(params, dict):
                raise invalid_params("params", "must be an object")
            if method == "ping":
                result = {}
            elif method == "initialize":
                result = {"serverInfo": {"name": "asyncio-bridge", "version": "0"},
                          "protocolVersion": 1,
                          "capabilities": {"isolation": ["none"], "pty": False, "files": False}}
            elif method == "commands.run":
                result = await self.commands_run(params, mid)
                if result is None:  # background: already answered
                    return
            elif method == "commands.kill":
                result = await self.commands_kill(params)
            elif method == "commands.wait":
                result = await self.commands_wait(params)
            elif method == "sandbox.create":
                result = await self.sandbox_create(params)
            elif method == "sandbox.kill":
                result = await self.sandbox_kill(params)
            elif method == "shutdown":
                self.shutting_down = True
                await self.kill_all()
                await self.respond(mid, {})
                await self.writer.drain()
                self.exit_now()
            else:
                if not is_request:
                    return
                raise RpcError(-32601, f"method not found: {method}",
                               {"kind": "MethodNotFound", "method": method})
            if is_request:
                await self.respond(mid, result)
        except RpcError as e:
            if is_request:
                await self.respond_error(mid, e)
        except Exception as e:  # a bug
            if is_request:
                await self.respond_error(mid, RpcError(-32603, f"internal error: {e!r}",
                                                       {"kind": "Internal", "reason": repr(e)}))

    def spawn_task(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def main(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            w_transport, w_protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, sys.stdout)
            self.writer = asyncio.StreamWriter(w_transport, w_protocol, reader, loop)
        except ValueError:  # stdout is a regular file: plain blocking writes
            self.writer = BlockingWriter(sys.stdout.buffer)
        requests = set()
        while True:
            try:
                line = await reader.readline()
            except (asyncio.LimitOverrunError, ValueError):
                await self.send({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32600, "message": "message too long",
                    "data": {"kind": "LimitExceeded", "limit": 64 * 1024 * 1024}}})
                continue
            if not line:
                break
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError as e:
                await self.send({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32700, "message": "parse error",
                    "data": {"kind": "ParseError", "reason": str(e)}}})
                continue
            if not isinstance(msg, dict):
                await self.send({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32600, "message": "invalid request",
                    "data": {"kind": "InvalidRequest", "reason": "not an object"}}})
                continue
            task = self.spawn_task(self.handle(msg))
            requests.add(task)
            task.add_done_callback(requests.discard)
        # EOF: let requests already read finish for a while, then kill everything.
        if requests:
            await asyncio.wait(set(requests), timeout=self.eof_grace)
        await self.kill_all()
        try:
            await self.writer.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.exit_now()

    def exit_now(self):
        shutil.rmtree(self.base_dir, ignore_errors=True)
        os._exit(0)


def main():
    ap = argparse.ArgumentParser(description="asyncio baseline bridge for bench/run "
                                 "(line-delimited JSON-RPC 2.0 on stdin/stdout)")
    ap.add_argument("--eof-grace", type=float, default=3.0,
                    help="seconds that requests read before EOF get to finish (default 3)")
    eof_grace = ap.parse_args().eof_grace
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if sys.version_info < (3, 12) and hasattr(asyncio, "PidfdChildWatcher"):
        # 3.11 defaults to a thread per child; 3.12+ already uses pidfds.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(loop)
        asyncio.set_child_watcher(watcher)
        loop.run_until_complete(Bridge(eof_grace).main())
    else:
        asyncio.run(Bridge(eof_grace).main())


if __name__ == "__main__":
    main()
