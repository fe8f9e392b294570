"""An agent-style loop on sandbox-rpc: run a command, stream a long one, feed stdin, kill a
runaway, and read a file the commands wrote.

    SANDBOX_RPC_BIN=/path/to/sandbox-rpc python3 examples/agent_loop.py
"""

import time

from sandbox_rpc import CommandExitException, Sandbox, TimeoutException


def main() -> None:
    with Sandbox.create(envs={"PROJECT": "demo"}) as sandbox:
        # 1. Run a command and look at its result; a failing one raises with its output.
        print(sandbox.commands.run("echo project=$PROJECT; uname -s").stdout, end="")
        try:
            sandbox.commands.run("ls /no/such/dir")
        except CommandExitException as e:
            print(f"failed with {e.exit_code}: {e.stderr.strip()}")

        # 2. Stream a long command's output as it is produced.
        sandbox.commands.run(
            "for step in build test package; do echo \"$step...\"; sleep 0.2; done",
            on_stdout=lambda chunk: print(f"  [live] {chunk}", end=""),
        )

        # 3. Feed a command's stdin, then close it.
        sorter = sandbox.commands.run("sort", background=True, stdin=True)
        sorter.send_stdin("pear\napple\nfig\n")
        sorter.close_stdin()
        print("sorted:", sorter.wait().stdout.split())

        # 4. Kill a runaway; a timeout stops one we forgot about.
        runaway = sandbox.commands.run("while true; do sleep 1; done", background=True)
        time.sleep(0.2)
        print("killed runaway:", runaway.kill())
        try:
            sandbox.commands.run("sleep 10", timeout=0.5)
        except TimeoutException:
            print("timed out as asked")

        # 5. Read a file a command wrote (files.* when the bridge has them, else cat).
        sandbox.commands.run("echo 'result: 42' > report.txt")
        if sandbox.capabilities.get("files"):
            print("report:", sandbox.files.read("report.txt").strip())
        else:
            print("report:", sandbox.commands.run("cat report.txt").stdout.strip())


if __name__ == "__main__":
    main()
