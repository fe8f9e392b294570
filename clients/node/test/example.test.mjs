// examples/agent_loop.mjs runs to completion with the expected output.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { BIN, SKIP_NO_BRIDGE, bridge } from '../test-support/bridge.mjs'

const EXAMPLE = fileURLToPath(new URL('../examples/agent_loop.mjs', import.meta.url))

test('examples/agent_loop.mjs', { timeout: 30_000, skip: SKIP_NO_BRIDGE }, async () => {
  const { stdout, stderr } = await new Promise((resolve, reject) => {
    execFile(process.execPath, [EXAMPLE], { env: { ...process.env, SANDBOX_RPC_BIN: BIN }, timeout: 25_000 }, (error, out, err) =>
      error ? reject(Object.assign(error, { stdout: out, stderr: err })) : resolve({ stdout: out, stderr: err }),
    )
  })
  assert.equal(stderr, '')
  assert.equal(
    stdout,
    [
      '[run] hello from bash',
      '[exit] code 1: cat: missing.txt: No such file or directory',
      '[stream] step 1',
      '[stream] step 2',
      '[stream] step 3',
      '[stdin] HELLO FROM THE AGENT',
      '[list] running: true',
      '[kill] killed: true',
      bridge.capabilities?.files ? '[file] all steps done' : '[file] skipped: bridge lacks files capability',
      '',
    ].join('\n'),
  )
})
