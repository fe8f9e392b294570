// pty.* against the real bridge (skipped when it lacks the capability).

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { SKIP_NO_PTY, createSandbox, eventually } from '../test-support/bridge.mjs'

const T = { timeout: 30_000, skip: SKIP_NO_PTY }

describe('pty', () => {
  let sandbox
  before(async () => {
    if (!T.skip) sandbox = await createSandbox()
  })
  after(async () => {
    await sandbox?.kill()
  })

  test('an interactive shell: input, output bytes, resize, exit 0', T, async () => {
    const received = []
    const text = () => new TextDecoder().decode(Buffer.concat(received))
    const terminal = await sandbox.pty.create({ cols: 80, rows: 24, onData: (d) => received.push(d), timeoutMs: 0 })
    assert.ok(Number.isInteger(terminal.pid))
    assert.ok(received.every((d) => d instanceof Uint8Array))
    await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode('echo "[$((6*7))]"; stty size\n'))
    assert.ok(await eventually(() => text().includes('[42]') && text().includes('24 80')), text())
    await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 30 })
    await sandbox.pty.sendInput(terminal.pid, 'stty size; echo "$TERM"\n')
    assert.ok(await eventually(() => text().includes('30 100')), text())
    assert.ok((await sandbox.commands.list()).some((p) => p.pid === terminal.pid && p.isPty), 'listed as a pty')
    await sandbox.pty.sendInput(terminal.pid, 'exit\n')
    const result = await terminal.wait()
    assert.equal(result.exitCode, 0)
  })

  test('kill: true for a running pty, false when unknown', T, async () => {
    const terminal = await sandbox.pty.create({ cols: 80, rows: 24, timeoutMs: 0 })
    assert.equal(await sandbox.pty.kill(terminal.pid), true)
    await assert.rejects(terminal.wait(), (e) => e.exitCode === 137)
    assert.equal(await sandbox.pty.kill(999_999), false)
  })
})
