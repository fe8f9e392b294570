"""Moru's "Background commands" page, run on sandbox-rpc.

Each section is the page's code with only the import changed (`from moru import Sandbox` →
`from sandbox_rpc import Sandbox`). Lines marked `# setup:` are not on the page: they create the
files the page assumes exist in the sandbox (server.py, long_task.py, package.json).
The web-server section is in moru_web_server.py.
"""

from sandbox_rpc import Sandbox

sandbox = Sandbox.create()

# setup: the scripts the page runs but does not show
sandbox.commands.run("""cat > server.py <<'EOF'
import time
while True:
    time.sleep(1)
EOF""")
sandbox.commands.run("""cat > long_task.py <<'EOF'
import sys, time
time.sleep(0.5)
sys.stdout.write("task done\\n")
EOF""")
sandbox.commands.run("""echo '{"name": "demo", "version": "1.0.0"}' > package.json""")

print("== Starting a Background Command")
# Start a command in the background
handle = sandbox.commands.run("python3 -m http.server 8080", background=True)

print(f"Server started with PID: {handle.pid}")

# Your code continues immediately
print("Doing other work...")

print("== Waiting for Completion")
# Start long-running task
handle = sandbox.commands.run("npm install", background=True)

# Wait for it to complete
result = handle.wait()

print(f"Exit code: {result.exit_code}")
print(f"Output: {result.stdout}")

print("== Killing a Background Command")
# Start a server
handle = sandbox.commands.run("python3 server.py", background=True)

# Do some work...
import time
time.sleep(5)

# Kill the server
killed = handle.kill()
print(f"Killed: {killed}")  # True

print("== Sending Input (stdin)")
# Start an interactive process
handle = sandbox.commands.run(
    "python3 -c 'while True: print(input().upper())'",
    background=True,
    stdin=True
)

# Send input
handle.send_stdin("hello\n")
time.sleep(0.1)
handle.send_stdin("world\n")

# Check output
time.sleep(0.1)
print(handle.stdout)  # HELLO\nWORLD\n

handle.kill()

print("== Streaming Output")
def on_output(data):
    print(f"[stdout] {data}", end="")

def on_error(data):
    print(f"[stderr] {data}", end="")

handle = sandbox.commands.run(
    "for i in $(seq 1 5); do echo $i; sleep 1; done",
    background=True,
    on_stdout=on_output,
    on_stderr=on_error
)

# Output streams in real-time while you do other work
time.sleep(6)

print(f"\nFinal exit code: {handle.exit_code}")

print("== Disconnecting")
handle = sandbox.commands.run("python3 server.py", background=True)

# Stop receiving output but keep process running
handle.disconnect()

# Process is still running
result = sandbox.commands.run("pgrep -f 'python3 server.py'")
print(f"Still running: {result.exit_code == 0}")

print("== Listing Running Commands")
# Start some background commands
sandbox.commands.run("sleep 100", background=True)
sandbox.commands.run("python3 -m http.server 8080", background=True)

# List all running commands
processes = sandbox.commands.list()

for proc in processes:
    print(f"PID: {proc.pid}, Command: {proc.cmd} {proc.args}")

print("== Killing by PID")
# List processes and kill specific ones
processes = sandbox.commands.list()

for proc in processes:
    if "http.server" in proc.cmd:
        killed = sandbox.commands.kill(proc.pid)
        print(f"Killed PID {proc.pid}: {killed}")

print("== Reconnecting to a Command")
# Start a command
handle = sandbox.commands.run("python3 long_task.py", background=True)
pid = handle.pid

# Later, or in another part of your code
handle = sandbox.commands.connect(pid)

# Now you can wait or interact with it
result = handle.wait()
print(f"Reconnected result: {result.stdout!r}")  # setup: show what the page leaves implicit

sandbox.kill()  # setup: the page leaves the sandbox running
