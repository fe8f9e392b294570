"""Declaw's `sbx.commands` page, run on sandbox-rpc.

Each section is the page's code with only the import changed (`from declaw import ...` →
`from sandbox_rpc import ...`). Lines marked `# setup:` are not on the page: they create the
scripts the page runs (long_script.py, script.py) and, for `connect`, start a process to connect
to (the page's pid 5678 is a placeholder).
"""

from sandbox_rpc import Sandbox, CommandResult, CommandHandle, ProcessInfo

sbx = Sandbox.create()  # setup: the page assumes a sandbox named sbx

# setup: the scripts the page runs but does not show
sbx.commands.run("""cat > long_script.py <<'EOF'
import time
for i in range(3):
    print("step", i)
    time.sleep(0.2)
EOF""")
sbx.commands.run("""cat > script.py <<'EOF'
import sys
sys.stdout.write("to stdout\\n")
sys.stderr.write("to stderr\\n")
EOF""")

print("== sbx.commands.run()")
result = sbx.commands.run("echo hello")
print(result.stdout)   # "hello\n"
print(result.exit_code)  # 0

handle: CommandHandle = sbx.commands.run("sleep 30", background=True)
print("PID:", handle.pid)

print("== sbx.commands.run_stream()")
def on_line(line: str) -> None:
    print(line, end="", flush=True)

result = sbx.commands.run_stream(
    "python3 -u long_script.py",
    on_stdout=on_line,
    on_stderr=on_line,
)
print("Exit code:", result.exit_code)

print("== sbx.commands.list()")
processes: list[ProcessInfo] = sbx.commands.list()
for p in processes:
    print(p.pid, p.cmd)

print("== sbx.commands.kill()")
killed = sbx.commands.kill(pid=1234)
print("Killed:", killed)  # setup: show the result (False: no such process)

print("== sbx.commands.send_stdin()")
handle = sbx.commands.run("cat", background=True)
sbx.commands.send_stdin(handle.pid, "hello\n")
sbx.commands.send_stdin(handle.pid, "world\n")

print("== sbx.commands.connect()")
pid_5678 = sbx.commands.run("sleep 0.5; echo connected", background=True).pid  # setup
handle = sbx.commands.connect(pid=pid_5678)
result = handle.wait()
print(result.stdout, end="")  # setup: show the result

print("== CommandHandle")
handle = sbx.commands.run("python3 script.py", background=True)

# Later, wait for it to finish
result = handle.wait(
    on_stdout=lambda line: print("OUT:", line),
    on_stderr=lambda line: print("ERR:", line),
)

print("== Run a Python script")
result = sbx.commands.run(
    "python3 -c \"import sys; print(sys.version)\"",
    timeout=10,
)
print(result.stdout)

print("== Run with environment variables")
result = sbx.commands.run(
    "echo $MY_SECRET",
    envs={"MY_SECRET": "s3cr3t"},
)
print(result.stdout, end="")  # setup: show the result

print("== Stream long-running output")
lines = []

result = sbx.commands.run_stream(
    "for i in $(seq 1 100); do echo $i; sleep 0.05; done",
    on_stdout=lines.append,
)
print(f"Received {len(lines)} lines")

print("== Background process with stdin")
import time

handle = sbx.commands.run("python3 -c \"import sys; [print(l.strip()+'!') for l in sys.stdin]\"", background=True)
time.sleep(0.1)
sbx.commands.send_stdin(handle.pid, "hello\nworld\n")
result = handle.wait()
print(result.stdout)  # "hello!\nworld!\n"

sbx.kill()  # setup: the page leaves the sandbox running
