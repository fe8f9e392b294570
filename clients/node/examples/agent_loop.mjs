#!/usr/bin/env node
// An agent-style loop over sandbox-rpc: run a command, stream a long one,
// feed stdin, kill a process, read a file. Needs the bridge: set
// SANDBOX_RPC_BIN, put `sandbox-rpc` on PATH, or `swift build` this repo.
//
//   node clients/node/examples/agent_loop.mjs

import { CommandExitError, Sandbox } from 'sandbox-rpc'

const sandbox = await Sandbox.create()
try {
  // 1. Run a command and use its output.
  const hello = await sandbox.commands.run('echo "hello from $(basename "$SHELL")"')
  console.log(`[run] ${hello.stdout.trim()}`)

  // A non-zero exit is an exception that carries the result.
  try {
    await sandbox.commands.run('cat missing.txt')
  } catch (error) {
    if (!(error instanceof CommandExitError)) throw error
    console.log(`[exit] code ${error.exitCode}: ${error.stderr.trim()}`)
  }

  // 2. Stream a long-running command as it produces output.
  await sandbox.commands.run('for i in 1 2 3; do echo "step $i"; sleep 0.2; done', {
    onStdout: (data) => {
      for (const line of data.split('\n').filter(Boolean)) console.log(`[stream] ${line}`)
    },
  })

  // 3. Feed stdin to a background command.
  const upper = await sandbox.commands.run('tr a-z A-Z', { background: true, stdin: true })
  await upper.sendStdin('hello from the agent\n')
  await upper.closeStdin()
  console.log(`[stdin] ${(await upper.wait()).stdout.trim()}`)

  // 4. Start a server-like process, find it, kill it.
  const server = await sandbox.commands.run('while true; do sleep 1; done', { background: true, timeoutMs: 0 })
  const running = (await sandbox.commands.list()).some((p) => p.pid === server.pid)
  console.log(`[list] running: ${running}`)
  console.log(`[kill] killed: ${await server.kill()}`)

  // 5. Write and read a file (when the bridge has the files capability).
  if (sandbox.capabilities.files) {
    await sandbox.files.write('notes/result.txt', 'all steps done\n')
    console.log(`[file] ${(await sandbox.files.read('notes/result.txt')).trim()}`)
  } else {
    console.log('[file] skipped: bridge lacks files capability')
  }
} finally {
  await sandbox.kill()
}
