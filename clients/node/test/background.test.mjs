// Background commands, handles, kill/list/stdin/connect/disconnect against
// the real bridge.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CommandExitError, CommandHandle, NotFoundError, SandboxError, TimeoutError } from 'sandbox-rpc'
import { SKIP_NO_BRIDGE, createSandbox, eventually, sleep } from '../test-support/bridge.mjs'

/** Per-test limit: a hung bridge fails the test instead of the whole run. */
const T = { timeout: 30_000, skip: SKIP_NO_BRIDGE }

describe('background commands', () => {
  let sandbox
  before(async () => {
    if (!T.skip) sandbox = await createSandbox()
  })
  after(async () => {
    await sandbox?.kill()
  })

  test('run({background: true}) resolves a handle at once; wait() gives the result', T, async () => {
    const started = Date.now()
    const handle = await sandbox.commands.run('sleep 0.5; echo done', { background: true })
    assert.ok(Date.now() - started < 400, 'did not wait for the command')
    assert.ok(handle instanceof CommandHandle)
    assert.ok(Number.isInteger(handle.pid) && handle.pid > 0)
    assert.equal(handle.exitCode, undefined)
    assert.equal(handle.error, undefined)
    const result = await handle.wait()
    assert.deepStrictEqual(result, { exitCode: 0, error: undefined, stdout: 'done\n', stderr: '' })
    assert.equal(handle.exitCode, 0)
    assert.equal(handle.stdout, 'done\n')
  })

  test('stdout/stderr grow live; kill() → true; wait() rejects with exit 137', T, async () => {
    const handle = await sandbox.commands.run('echo one; echo two >&2; sleep 30', { background: true, timeoutMs: 0 })
    assert.ok(await eventually(() => handle.stdout === 'one\n' && handle.stderr === 'two\n'), `stdout=${JSON.stringify(handle.stdout)}`)
    assert.equal(handle.exitCode, undefined)
    assert.equal(await handle.kill(), true)
    const error = await handle.wait().catch((e) => e)
    assert.ok(error instanceof CommandExitError, `got ${error}`)
    assert.equal(error.exitCode, 137)
    assert.equal(error.error, 'signal: SIGKILL')
    assert.equal(error.stdout, 'one\n')
    assert.equal(handle.exitCode, 137)
  })

  test('after commands.kill resolves, `kill -0 PID` fails inside the sandbox', T, async () => {
    const handle = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 })
    assert.equal(await sandbox.commands.kill(handle.pid), true)
    const probe = await sandbox.commands.run(`kill -0 ${handle.pid}`).catch((e) => e)
    assert.ok(probe instanceof CommandExitError, `kill -0 ${handle.pid} succeeded: the process is still there`)
    assert.equal(probe.exitCode, 1)
  })

  test('pids are the sandbox\'s own: $$ equals handle.pid', T, async () => {
    const handle = await sandbox.commands.run('echo $$', { background: true })
    const result = await handle.wait()
    assert.equal(result.stdout, `${handle.pid}\n`)
  })

  test('commands.kill with another signal: SIGTERM reaches the whole group', T, async () => {
    const handle = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 })
    assert.equal(await sandbox.commands.kill(handle.pid, { signal: 'SIGTERM' }), true)
    const error = await handle.wait().catch((e) => e)
    assert.ok(error instanceof CommandExitError, `got ${error}`)
    assert.equal(error.exitCode, 143)
    assert.equal(error.error, 'signal: SIGTERM')
  })

  test('kill: false for an unknown pid and for an exited process', T, async () => {
    assert.equal(await sandbox.commands.kill(999_999), false)
    const handle = await sandbox.commands.run('true', { background: true })
    await handle.wait()
    assert.equal(await sandbox.commands.kill(handle.pid), false)
    assert.equal(await handle.kill(), false)
  })

  test('list shows running processes with cmd, envs, tag; not after kill', T, async () => {
    const handle = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0, envs: { LISTED: 'yes' }, tag: 'sleeper' })
    const listed = (await sandbox.commands.list()).find((p) => p.pid === handle.pid)
    assert.ok(listed, 'the process is listed')
    assert.equal(listed.cmd, 'sleep 30')
    assert.deepEqual(listed.envs, { LISTED: 'yes' })
    assert.equal(listed.tag, 'sleeper')
    assert.equal(listed.isPty, false)
    assert.ok(listed.startedAt instanceof Date && Math.abs(listed.startedAt - Date.now()) < 60_000)
    await handle.kill()
    assert.equal((await sandbox.commands.list()).some((p) => p.pid === handle.pid), false)
  })

  test('stdin: sendStdin (string and bytes) then closeStdin', T, async () => {
    const handle = await sandbox.commands.run('cat', { background: true, stdin: true })
    await sandbox.commands.sendStdin(handle.pid, 'hello\n')
    assert.ok(await eventually(() => handle.stdout === 'hello\n'))
    await handle.sendStdin(new Uint8Array([0xc3, 0xa9, 0x0a]))
    assert.ok(await eventually(() => handle.stdout === 'hello\né\n'))
    await handle.closeStdin()
    await sandbox.commands.closeStdin(handle.pid) // idempotent
    const result = await handle.wait()
    assert.equal(result.stdout, 'hello\né\n')
    assert.equal(result.exitCode, 0)
  })

  test('stdin errors: StdinClosed without stdin:true or after close; ProcessNotRunning after exit', T, async () => {
    const noStdin = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 })
    const closed = await sandbox.commands.sendStdin(noStdin.pid, 'x').catch((e) => e)
    assert.ok(closed instanceof SandboxError, `got ${closed}`)
    assert.equal(closed.kind, 'StdinClosed')
    await noStdin.kill()

    const withStdin = await sandbox.commands.run('sleep 30', { background: true, stdin: true, timeoutMs: 0 })
    await withStdin.closeStdin()
    const afterClose = await withStdin.sendStdin('x').catch((e) => e)
    assert.equal(afterClose.kind, 'StdinClosed')
    await withStdin.kill()

    const exited = await sandbox.commands.run('true', { background: true, stdin: true })
    await exited.wait()
    const notRunning = await exited.sendStdin('x').catch((e) => e)
    assert.equal(notRunning.kind, 'ProcessNotRunning')
  })

  test('background timeout counts from start: TimeoutError, partial output kept', T, async () => {
    const handle = await sandbox.commands.run('echo x; sleep 10', { background: true, timeoutMs: 500 })
    const error = await handle.wait().catch((e) => e)
    assert.ok(error instanceof TimeoutError, `got ${error}`)
    assert.equal(error.kind, 'Timeout')
    assert.equal(error.stdout, 'x\n')
    assert.equal(handle.error, 'Timeout')
    assert.equal(handle.exitCode, 137)
  })

  test('output produced before anyone waits is kept', T, async () => {
    const handle = await sandbox.commands.run('echo early', { background: true })
    await sleep(300)
    assert.equal(handle.stdout, 'early\n')
    assert.equal((await handle.wait()).stdout, 'early\n')
  })

  test('ordering: every output chunk precedes the exit; nothing lost (20000 lines)', T, async () => {
    const chunks = []
    const handle = await sandbox.commands.run('seq 1 20000', { background: true, onStdout: (d) => chunks.push(d) })
    const result = await handle.wait()
    const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('')
    assert.ok(result.stdout === expected, 'stdout exact')
    assert.ok(chunks.join('') === expected, 'callbacks got exactly the stdout, in order')
  })

  test('disconnect stops callbacks but not the process; connect resumes: nothing missed, nothing twice', T, async () => {
    const first = []
    const handle = await sandbox.commands.run('echo a; sleep 1.5; echo b; sleep 1.5; echo c', {
      background: true,
      onStdout: (d) => first.push(d),
    })
    assert.ok(await eventually(() => first.join('') === 'a\n'))
    await handle.disconnect()
    await sleep(2000) // 'b' is written meanwhile
    assert.deepEqual(first, ['a\n'], 'no callback after disconnect')
    assert.ok((await sandbox.commands.list()).some((p) => p.pid === handle.pid), 'still running')
    const waitError = await handle.wait().catch((e) => e)
    assert.equal(waitError.kind, 'Disconnected')

    const second = []
    const again = await sandbox.commands.connect(handle.pid, { onStdout: (d) => second.push(d) })
    assert.equal(again.pid, handle.pid)
    assert.equal(again.stdout, 'a\nb\n', 'connect returns what was kept, including output while disconnected')
    const result = await again.wait()
    assert.equal(result.stdout, 'a\nb\nc\n')
    assert.equal(second.join(''), 'c\n')
  })

  test('connect to an exited, not yet waited process gives its output and exit', T, async () => {
    const handle = await sandbox.commands.run('echo done; exit 4', { background: true })
    await handle.wait().catch(() => {})
    const again = await sandbox.commands.connect(handle.pid)
    assert.equal(again.stdout, 'done\n')
    const error = await again.wait().catch((e) => e)
    assert.ok(error instanceof CommandExitError, `got ${error}`)
    assert.equal(error.exitCode, 4)
    assert.equal(error.stdout, 'done\n')
  })

  test('connect to an unknown pid is NotFoundError', T, async () => {
    const error = await sandbox.commands.connect(999_999).catch((e) => e)
    assert.ok(error instanceof NotFoundError, `got ${error}`)
    assert.equal(error.kind, 'ProcessNotFound')
  })

  test('a short-lived background command: exit right after the {pid} response is not lost', T, async () => {
    for (let i = 0; i < 20; i++) {
      const handle = await sandbox.commands.run(`echo ${i}`, { background: true })
      assert.equal((await handle.wait()).stdout, `${i}\n`)
    }
  })
})
