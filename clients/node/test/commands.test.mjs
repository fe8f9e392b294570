// Foreground commands against the real bridge: exact bytes, exit codes,
// decoding, environment, timeouts, streaming and concurrency.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CommandExitError, FileNotFoundError, InvalidArgumentError, SandboxError, TimeoutError } from 'sandbox-rpc'
import { SKIP_NO_BRIDGE, bridge, createSandbox, sleep } from '../test-support/bridge.mjs'

/** 8191 × 'a' then the lone byte 0xE2 (the start of a 3-byte character, never finished). */
const A8191_E2 = "head -c 8191 /dev/zero | tr '\\0' a; printf '\\342'"
const A8191_FFFD = 'a'.repeat(8191) + '\ufffd'

/** Per-test limit: a hung bridge fails the test instead of the whole run. */
const T = { timeout: 30_000, skip: SKIP_NO_BRIDGE }

describe('commands.run (foreground)', () => {
  let sandbox
  before(async () => {
    if (!T.skip) sandbox = await createSandbox({ envs: { SANDBOX_LEVEL: 'sb' }, bridgeEnv: { ...process.env, SANDBOX_RPC_TEST_SECRET: 'leaked' } })
  })
  after(async () => {
    await sandbox?.kill()
  })

  test('initialize reported name and capabilities', T, () => {
    assert.equal(sandbox.serverInfo.name, 'sandbox-rpc')
    assert.equal(typeof sandbox.capabilities.pty, 'boolean')
    assert.equal(typeof sandbox.capabilities.files, 'boolean')
    assert.deepEqual(sandbox.capabilities, bridge.capabilities)
    assert.equal(typeof sandbox.sandboxId, 'string')
    assert.ok(sandbox.sandboxId.length > 0)
  })

  test('echo: exact result object', T, async () => {
    const result = await sandbox.commands.run('echo hi')
    assert.deepStrictEqual(result, { exitCode: 0, error: undefined, stdout: 'hi\n', stderr: '' })
  })

  test('stdout and stderr are separate and byte-exact', T, async () => {
    const result = await sandbox.commands.run("printf 'out\\r\\n\\t\\303\\251\\360\\237\\230\\200'; printf 'err' >&2")
    assert.equal(result.stdout, 'out\r\n\té😀')
    assert.equal(result.stderr, 'err')
  })

  test('non-zero exit rejects with CommandExitError carrying the result', T, async () => {
    const error = await sandbox.commands.run('echo out; echo err >&2; exit 3').then(
      () => assert.fail('resolved'),
      (e) => e,
    )
    assert.ok(error instanceof CommandExitError)
    assert.ok(error instanceof SandboxError)
    assert.equal(error.exitCode, 3)
    assert.equal(error.stdout, 'out\n')
    assert.equal(error.stderr, 'err\n')
    assert.equal(error.error, undefined)
    assert.equal(error.name, 'CommandExitError')
  })

  test('killed by a signal: exit code 128+n and the signal named in error', T, async () => {
    const error = await sandbox.commands.run('kill -TERM $$').catch((e) => e)
    assert.ok(error instanceof CommandExitError)
    assert.equal(error.exitCode, 143)
    assert.equal(error.error, 'signal: SIGTERM')
  })

  test('8191 × a + 0xE2 decodes to a×8191 + U+FFFD (no streaming)', T, async () => {
    const result = await sandbox.commands.run(A8191_E2)
    assert.equal(result.stdout, A8191_FFFD)
  })

  test('8191 × a + 0xE2 decodes to a×8191 + U+FFFD (streamed, stdout and stderr)', T, async () => {
    const out = []
    const err = []
    const result = await sandbox.commands.run(`{ ${A8191_E2}; } ; { ${A8191_E2}; } >&2`, {
      onStdout: (d) => out.push(d),
      onStderr: (d) => err.push(d),
    })
    assert.equal(result.stdout, A8191_FFFD)
    assert.equal(result.stderr, A8191_FFFD)
    assert.equal(out.join(''), A8191_FFFD)
    assert.equal(err.join(''), A8191_FFFD)
    assert.ok(out.every((d) => d.length > 0) && err.every((d) => d.length > 0), 'no empty chunk')
  })

  test('multi-byte characters are never split across chunks (1 MB streamed)', T, async () => {
    const chunks = []
    const result = await sandbox.commands.run("yes '€😀' | head -n 125000", { onStdout: (d) => chunks.push(d) })
    const expected = '€😀\n'.repeat(125000)
    assert.equal(result.stdout.length, expected.length)
    assert.ok(result.stdout === expected, 'stdout is exact')
    assert.ok(chunks.join('') === expected, 'chunks concatenate to the exact stdout')
    assert.ok(!chunks.some((d) => d.includes('\ufffd')), 'no replacement character: no character was split')
  })

  test('large output (3 MB) is complete without streaming', T, async () => {
    const result = await sandbox.commands.run("head -c 3000000 /dev/zero | tr '\\0' x")
    assert.equal(result.stdout.length, 3_000_000, result.stderr)
    assert.ok(result.stdout === 'x'.repeat(3_000_000))
  })

  test('environment: clean, sandbox envs reach all commands, command envs do not leak', T, async () => {
    const first = await sandbox.commands.run('echo "$PER_COMMAND|$SANDBOX_LEVEL"', { envs: { PER_COMMAND: 'cmd' } })
    assert.equal(first.stdout, 'cmd|sb\n')
    const second = await sandbox.commands.run('echo "${PER_COMMAND-unset}|$SANDBOX_LEVEL"')
    assert.equal(second.stdout, 'unset|sb\n')
    const leak = await sandbox.commands.run('echo "${SANDBOX_RPC_TEST_SECRET-unset}"')
    assert.equal(leak.stdout, 'unset\n', "the bridge's own environment must not reach commands")
    const defaults = await sandbox.commands.run('printf "%s|%s|%s|%s|%s" "$LANG" "$TERM" "$PAGER" "$HOME" "$PWD"')
    assert.equal(defaults.stdout, `C.UTF-8|dumb|cat|${sandbox.home}|${sandbox.home}`)
    const overridden = await sandbox.commands.run('echo "$SANDBOX_LEVEL"', { envs: { SANDBOX_LEVEL: 'cmd-wins' } })
    assert.equal(overridden.stdout, 'cmd-wins\n')
  })

  test('cwd: relative to home; missing is FileNotFoundError', T, async () => {
    await sandbox.commands.run('mkdir -p sub/dir')
    const result = await sandbox.commands.run('pwd', { cwd: 'sub/dir' })
    assert.equal(result.stdout, `${sandbox.home}/sub/dir\n`)
    const absolute = await sandbox.commands.run('pwd', { cwd: `${sandbox.home}/sub` })
    assert.equal(absolute.stdout, `${sandbox.home}/sub\n`)
    const error = await sandbox.commands.run('pwd', { cwd: 'no/such/dir' }).catch((e) => e)
    assert.ok(error instanceof FileNotFoundError, `got ${error}`)
    assert.equal(error.kind, 'FileNotFound')
  })

  test('user: runs as that user (needs root, isolation none); an unknown user is PermissionDenied', { ...T, skip: T.skip || (process.getuid?.() === 0 ? false : 'needs root') }, async () => {
    const host = await createSandbox({ isolation: 'none' })
    try {
      const result = await host.commands.run('id -un', { user: 'nobody' })
      assert.equal(result.stdout, 'nobody\n')
      const error = await host.commands.run('id -un', { user: 'no-such-user-here' }).catch((e) => e)
      assert.ok(error instanceof SandboxError && !(error instanceof CommandExitError), `got ${error}`)
      assert.equal(error.kind, 'PermissionDenied')
    } finally {
      await host.kill()
    }
  })

  test('user: in a bwrap sandbox commands run as "user"; another user is PermissionDenied', T, async (t) => {
    if (sandbox.isolation !== 'bwrap') {
      assert.notEqual(process.env.CI, 'true', 'CI=true: .ci/run installs bubblewrap, so sandboxes are bwrap')
      return t.skip('bwrap is not available on this machine')
    }
    assert.equal((await sandbox.commands.run('id -un', { user: 'user' })).stdout, 'user\n')
    const error = await sandbox.commands.run('id -un', { user: 'root' }).catch((e) => e)
    assert.equal(error.kind, 'PermissionDenied')
  })

  test('stdin is /dev/null unless asked for', T, async () => {
    const result = await sandbox.commands.run('cat; echo "rc=$?"')
    assert.equal(result.stdout, 'rc=0\n')
  })

  test('timeout: TimeoutError with the partial output, promptly', T, async () => {
    const started = Date.now()
    const error = await sandbox.commands.run('echo before; echo err >&2; sleep 10', { timeoutMs: 500 }).catch((e) => e)
    const elapsed = Date.now() - started
    assert.ok(error instanceof TimeoutError, `got ${error}`)
    assert.equal(error.kind, 'Timeout')
    assert.equal(error.stdout, 'before\n')
    assert.equal(error.stderr, 'err\n')
    assert.equal(error.exitCode, 137)
    assert.equal(error.signal, 'SIGKILL')
    assert.ok(elapsed >= 450 && elapsed < 5000, `took ${elapsed} ms`)
  })

  test('timeout while streaming: TimeoutError, output delivered first', T, async () => {
    const chunks = []
    const error = await sandbox.commands
      .run('echo before; sleep 10', { timeoutMs: 500, onStdout: (d) => chunks.push(d) })
      .catch((e) => e)
    assert.ok(error instanceof TimeoutError, `got ${error}`)
    assert.equal(error.stdout, 'before\n')
    assert.equal(chunks.join(''), 'before\n')
  })

  test('timeoutMs: 0 means no timeout', T, async () => {
    const result = await sandbox.commands.run('sleep 0.3; echo done', { timeoutMs: 0 })
    assert.equal(result.stdout, 'done\n')
  })

  test('onStdout is called live, before the command ends', T, async () => {
    const arrivals = []
    const started = Date.now()
    const result = await sandbox.commands.run('echo one; sleep 1; echo two', {
      onStdout: (d) => arrivals.push([Date.now() - started, d]),
    })
    const finished = Date.now() - started
    assert.equal(result.stdout, 'one\ntwo\n')
    assert.equal(arrivals.map(([, d]) => d).join(''), 'one\ntwo\n')
    assert.equal(arrivals[0][1], 'one\n')
    assert.ok(finished - arrivals[0][0] >= 700, `first chunk at ${arrivals[0][0]} ms, end at ${finished} ms`)
  })

  test('async callbacks run one at a time, in order', T, async () => {
    const seen = []
    let running = 0
    const result = await sandbox.commands.run('seq 1 3000', {
      onStdout: async (d) => {
        running++
        assert.equal(running, 1)
        await sleep(Math.random() < 0.1 ? 1 : 0)
        seen.push(d)
        running--
      },
    })
    const expected = Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('')
    assert.equal(result.stdout, expected)
    assert.equal(seen.join(''), expected, 'every callback finished before run() resolved')
  })

  test('a throwing callback rejects run() with its error', T, async () => {
    const boom = new Error('boom')
    const error = await sandbox.commands
      .run('echo x', {
        onStdout: () => {
          throw boom
        },
      })
      .catch((e) => e)
    assert.equal(error, boom)
  })

  test('a long run does not block other requests', T, async () => {
    const order = []
    const slow = sandbox.commands.run('sleep 1; echo slow').then((r) => order.push(r.stdout))
    await sleep(100)
    const fast = sandbox.commands.run('echo fast').then((r) => order.push(r.stdout))
    await Promise.all([slow, fast])
    assert.deepEqual(order, ['fast\n', 'slow\n'])
  })

  test('50 concurrent runs each get their own result', T, async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sandbox.commands.run(`echo ${i}; exit 0`)))
    assert.deepEqual(
      results.map((r) => r.stdout),
      Array.from({ length: 50 }, (_, i) => `${i}\n`),
    )
  })

  test('a missing cmd is InvalidArgumentError naming the field', T, async () => {
    const error = await sandbox.commands.run(undefined).catch((e) => e)
    assert.ok(error instanceof InvalidArgumentError, `got ${error}`)
    assert.equal(error.kind, 'InvalidParams')
    assert.equal(error.code, -32602)
    assert.equal(error.data.field, 'cmd')
  })
})
