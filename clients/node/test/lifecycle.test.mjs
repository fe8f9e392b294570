// Sandbox lifecycle against the real bridge: kill leaves nothing running,
// a program that forgets kill() still ends, a dead bridge fails requests,
// sandbox timeouts, getHost.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { SandboxError, TimeoutError } from 'sandbox-rpc'
import { BIN, SKIP_NO_BRIDGE, createSandbox, eventually, isAlive, marker, processesMatching, sleep } from '../test-support/bridge.mjs'

const INDEX_JS = fileURLToPath(new URL('../src/index.js', import.meta.url))

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Per-test limit: a hung bridge fails the test instead of the whole run. */
const T = { timeout: 30_000, skip: SKIP_NO_BRIDGE }

/** Runs an ES module source with this Node; resolves its stdout once it exits 0 by itself. */
function runNode(source) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', source], { timeout: 20_000 }, (error, out, err) =>
      error ? reject(Object.assign(error, { message: `${error.message}\nstdout: ${out}\nstderr: ${err}` })) : resolve(out),
    )
  })
}

describe('sandbox lifecycle', () => {
  test('kill(): every process is gone (also ones that left the group), the bridge exits, handles reject', T, async () => {
    const sandbox = await createSandbox()
    const [inGroup, escaped, nohupped] = [marker(), marker(), marker()]
    const handle = await sandbox.commands.run(`sleep 1000.${inGroup}`, { background: true, timeoutMs: 0 })
    await sandbox.commands.run(`setsid -f sleep 1000.${escaped} >/dev/null 2>&1; nohup sleep 1000.${nohupped} >/dev/null 2>&1 &`)
    const pendingRun = sandbox.commands.run(`sleep 1000.${inGroup}`, { timeoutMs: 0 }).catch((e) => e)
    for (const m of [inGroup, escaped, nohupped]) {
      assert.ok(await eventually(() => processesMatching(m).length > 0), `sleep 1000.${m} started`)
    }
    const bridgePid = sandbox.bridgePid

    assert.equal(await sandbox.kill(), true)

    assert.equal(isAlive(bridgePid), false, 'the bridge process has exited when kill() resolves')
    for (const m of [inGroup, escaped, nohupped]) {
      assert.ok(await eventually(() => processesMatching(m).length === 0, 2000), `sleep 1000.${m} survived: ${processesMatching(m)}`)
    }
    const waitError = await handle.wait().catch((e) => e)
    assert.ok(waitError instanceof TimeoutError, `background wait: got ${waitError}`)
    assert.equal(waitError.kind, 'SandboxKilled')
    const runError = await pendingRun
    assert.ok(runError instanceof TimeoutError, `pending foreground run: got ${runError}`)
    assert.equal(runError.kind, 'SandboxKilled')

    assert.equal(await sandbox.kill(), false, 'a second kill() is false')
    assert.equal(await sandbox.isRunning(), false)
    const after = await sandbox.commands.run('echo hi').catch((e) => e)
    assert.ok(after instanceof SandboxError)
    assert.equal(after.kind, 'BridgeClosed')
  })

  test('a descendant that keeps the pipes open does not hold the result back; it dies with the sandbox', T, async () => {
    const sandbox = await createSandbox()
    const m = marker()
    const started = Date.now()
    const result = await sandbox.commands.run(`sleep 1000.${m} & echo started`)
    assert.equal(result.stdout, 'started\n')
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    // (eventually: /proc/PID/cmdline can read empty for an instant while sleep is exec'd)
    assert.ok(await eventually(() => processesMatching(m).length > 0, 1000), 'the descendant is running')
    await sleep(300)
    assert.ok(processesMatching(m).length > 0, 'the descendant keeps running')
    assert.equal(await sandbox.kill(), true)
    assert.ok(await eventually(() => processesMatching(m).length === 0, 2000), `sleep 1000.${m} survived`)
  })

  test('a program that never calls kill() still ends, and so does everything it started', T, async () => {
    const m = marker()
    const script = `
      import { Sandbox } from ${JSON.stringify(INDEX_JS)}
      const sandbox = await Sandbox.create({ bridgePath: ${JSON.stringify(BIN)} })
      const handle = await sandbox.commands.run('sleep 1000.${m}', { background: true, timeoutMs: 0 })
      console.log(JSON.stringify({ bridgePid: sandbox.bridgePid, pid: handle.pid }))
    `
    const started = Date.now()
    const stdout = await runNode(script)
    assert.ok(Date.now() - started < 15_000, 'the program exited by itself')
    const { bridgePid } = JSON.parse(stdout)
    assert.ok(await eventually(() => !isAlive(bridgePid), 5000), 'the bridge exited after its client went away')
    assert.ok(await eventually(() => processesMatching(m).length === 0, 5000), `sleep 1000.${m} survived`)
  })

  test('a pending wait() or a handle with callbacks keeps the program alive until the exit', T, async () => {
    const script = `
      import { Sandbox } from ${JSON.stringify(INDEX_JS)}
      const sandbox = await Sandbox.create({ bridgePath: ${JSON.stringify(BIN)} })
      const waited = await sandbox.commands.run('sleep 0.5; echo waited', { background: true })
      console.log((await waited.wait()).stdout.trim())
      await sandbox.commands.run('sleep 0.5; echo streamed', {
        background: true,
        onStdout: (d) => process.stdout.write(d),
      })
      // no await: the callback alone keeps the program running until the command exits
    `
    const stdout = await runNode(script)
    assert.equal(stdout, 'waited\nstreamed\n')
  })

  test('a bridge that dies fails pending requests with BridgeExited, and its processes die too', T, async () => {
    const sandbox = await createSandbox()
    const m = marker()
    const pending = sandbox.commands.run(`sleep 1000.${m}`, { timeoutMs: 0 }).catch((e) => e)
    assert.ok(await eventually(() => processesMatching(m).length > 0))
    process.kill(sandbox.bridgePid, 'SIGKILL')
    const error = await pending
    assert.ok(error instanceof SandboxError, `got ${error}`)
    assert.equal(error.kind, 'BridgeExited')
    assert.match(error.message, /exited unexpectedly/)
    assert.ok(await eventually(() => processesMatching(m).length === 0, 3000), `sleep 1000.${m} outlived its SIGKILLed bridge`)
    assert.equal(await sandbox.isRunning(), false)
    assert.equal(await sandbox.kill(), false)
  })

  test('sandbox timeoutMs: the sandbox is killed when it passes; handles reject with SandboxKilled', T, async () => {
    const sandbox = await createSandbox({ timeoutMs: 1000 })
    try {
      const started = Date.now()
      const handle = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 })
      const error = await handle.wait().catch((e) => e)
      assert.ok(error instanceof TimeoutError, `got ${error}`)
      assert.equal(error.kind, 'SandboxKilled')
      assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`)
      assert.equal(await sandbox.isRunning(), false)
    } finally {
      assert.equal(await sandbox.kill(), false, 'kill() of a timed-out sandbox is false')
    }
  })

  test('setTimeout extends or shortens the lifetime', T, async () => {
    const sandbox = await createSandbox({ timeoutMs: 600_000 })
    try {
      await sandbox.setTimeout(500)
      assert.ok(await eventually(async () => !(await sandbox.isRunning()), 5000), 'killed after the new timeout')
    } finally {
      await sandbox.kill()
    }
  })

  test('getHost(port) is "host:port" and reaches a server in the sandbox (shared network)', T, async (t) => {
    const sandbox = await createSandbox({ isolation: 'none' })
    try {
      const port = await freePort()
      const host = sandbox.getHost(port)
      assert.match(host, new RegExp(`^.+:${port}$`))
      assert.equal(await sandbox.getHostAsync(port), host)
      assert.throws(() => sandbox.getHost(0), { name: 'InvalidArgumentError' })

      const hasPython = await sandbox.commands.run('command -v python3').then(() => true, () => false)
      if (!hasPython) return t.skip('python3 is not available inside the sandbox')
      await sandbox.commands.run('echo hello > index.txt')
      const server = await sandbox.commands.run(`python3 -m http.server ${port}`, { background: true, timeoutMs: 0 })
      const body = await eventually(async () => {
        try {
          const response = await fetch(`http://${host}/index.txt`)
          return response.ok ? await response.text() : undefined
        } catch {
          return undefined
        }
      }, 10_000)
      assert.equal(body, 'hello\n')
      assert.equal(await server.kill(), true)
    } finally {
      await sandbox.kill()
    }
  })

  test('getHostAsync(port) reaches a server in a network-isolated sandbox through a forward', T, async (t) => {
    const sandbox = await createSandbox()
    try {
      if (sandbox.isolation !== 'bwrap') {
        assert.notEqual(process.env.CI, 'true', 'CI=true: .ci/run installs bubblewrap, so sandboxes are bwrap')
        return t.skip('bwrap is not available on this machine')
      }
      await sandbox.commands.run('echo isolated > index.txt')
      const server = await sandbox.commands.run('python3 -m http.server 8080', { background: true, timeoutMs: 0 })
      const host = await sandbox.getHostAsync(8080)
      assert.match(host, /^127\.0\.0\.1:\d+$/)
      const body = await eventually(async () => {
        try {
          const response = await fetch(`http://${host}/index.txt`)
          return response.ok ? await response.text() : undefined
        } catch {
          return undefined
        }
      }, 10_000)
      assert.equal(body, 'isolated\n')
      assert.equal(await server.kill(), true)
    } finally {
      await sandbox.kill()
    }
  })

  test('two sandboxes are independent: separate bridges, homes and processes', T, async () => {
    const [a, b] = await Promise.all([createSandbox({ isolation: 'none' }), createSandbox()])
    try {
      assert.notEqual(a.bridgePid, b.bridgePid)
      assert.notEqual(a.home, b.home)
      const long = await b.commands.run('sleep 30', { background: true, timeoutMs: 0 })
      assert.deepEqual(await a.commands.list(), [])
      assert.equal(await a.kill(), true)
      assert.equal((await b.commands.run('echo still here')).stdout, 'still here\n')
      assert.deepEqual((await b.commands.list()).map((p) => p.pid), [long.pid])
    } finally {
      await Promise.all([a.kill(), b.kill()])
    }
  })

  test('getInfo and isRunning', T, async () => {
    const sandbox = await createSandbox({ metadata: { owner: 'node-tests' } })
    try {
      assert.equal(await sandbox.isRunning(), true)
      const info = await sandbox.getInfo()
      assert.equal(info.sandboxId, sandbox.sandboxId)
      assert.deepEqual(info.metadata, { owner: 'node-tests' })
      assert.ok(info.startedAt instanceof Date && Math.abs(info.startedAt - Date.now()) < 60_000)
    } finally {
      await sandbox.kill()
    }
  })

  test('Sandbox.create with a missing bridge path fails with BridgeExited and leaves nothing', T, async () => {
    const error = await createSandbox({ bridgePath: '/nonexistent/sandbox-rpc' }).catch((e) => e)
    assert.ok(error instanceof SandboxError, `got ${error}`)
    assert.equal(error.kind, 'BridgeExited')
    assert.match(error.message, /could not be run/)
  })
})
