#!/usr/bin/env python3
"""Drives a real sandbox-rpc bridge over its pipes and prints what it saw.

Starts the bridge, runs a foreground command, streams a background one, feeds stdin to a
third, kills a server and shows that nothing is left running. Stdlib only: the wire is plain
line-delimited JSON-RPC 2.0.
"""
import json
import os
import subprocess
import sys
import time

BIN = os.environ.get("SANDBOX_RPC_BIN") or os.path.join(os.path.dirname(__file__), "..", ".build", "release", "sandbox-rpc")


class Bridge:
    def __init__(self):
        self.proc = subprocess.Popen([BIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 1

    def send(self, method, params=None):
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            request["params"] = params
        self.next_id += 1
        line = json.dumps(request)
        print(f"  -> {line}")
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return request["id"]

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the bridge closed its stdout")
        message = json.loads(line)
        shown = line.decode().rstrip()
        print(f"  <- {shown if len(shown) < 160 else shown[:157] + '...'}")
        return message

    def call(self, method, params=None):
        request_id = self.send(method, params)
        while True:
            message = self.read()
            if message.get("id") == request_id:
                if "error" in message:
                    raise SystemExit(f"{method} failed: {message['error']}")
                return message["result"]


def main():
    bridge = Bridge()
    print("1. initialize")
    info = bridge.call("initialize", {"clientInfo": {"name": "demo"}})
    print(f"   server {info['serverInfo']['version']}, isolation {info['capabilities']['isolation']}\n")

    print("2. a foreground command: the response is its CommandResult")
    result = bridge.call("commands.run", {"cmd": "echo hello from $(basename $PWD); echo oops >&2; exit 3"})
    print(f"   exitCode={result['exitCode']} stdout={result['stdout']!r} stderr={result['stderr']!r}\n")

    print("3. a background command: {pid} at once, then output as notifications, then its exit")
    pid = bridge.call("commands.run", {"cmd": "for i in 1 2 3; do echo tick $i; sleep 0.2; done", "background": True})["pid"]
    seen = []
    while True:
        message = bridge.read()
        if message.get("method") == "commands.output" and message["params"]["pid"] == pid:
            seen.append(message["params"]["data"])
        if message.get("method") == "commands.exit" and message["params"]["pid"] == pid:
            break
    print(f"   streamed {''.join(seen)!r}\n")

    print("4. stdin: a background upper-caser fed through commands.sendStdin")
    pid = bridge.call("commands.run", {"cmd": "tr a-z A-Z", "background": True, "stdin": True, "stream": False})["pid"]
    bridge.call("commands.sendStdin", {"pid": pid, "data": "hello stdin\n"})
    bridge.call("commands.closeStdin", {"pid": pid})
    result = bridge.call("commands.wait", {"pid": pid})
    print(f"   wait -> {result['stdout']!r}\n")

    print("5. a server in the background, killed with its whole process group")
    pid = bridge.call("commands.run", {"cmd": "python3 -m http.server 0 >/dev/null 2>&1 & sleep 1000", "background": True, "stream": False})["pid"]
    time.sleep(0.3)
    print(f"   running: {[p['cmd'] for p in bridge.call('commands.list')['processes']]}")
    print(f"   kill -> {bridge.call('commands.kill', {'pid': pid})}")
    check = bridge.call("commands.run", {"cmd": f"kill -0 {pid} 2>/dev/null && echo alive || echo gone"})
    print(f"   pid {pid} is {check['stdout'].strip()}\n")

    print("6. shutdown: every sandbox killed, the bridge exits 0")
    bridge.call("shutdown")
    print(f"   exit status {bridge.proc.wait(timeout=10)}")


if __name__ == "__main__":
    main()
