// Where Sandbox.create looks for the bridge (no bridge needed).

import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { findBridge } from 'sandbox-rpc'
import { bridgeCandidates } from '../src/locate.js'

test('order: $SANDBOX_RPC_BIN, PATH, .build/release, .build/debug', () => {
  const candidates = bridgeCandidates({ SANDBOX_RPC_BIN: '/x/bin', PATH: '/p1:/p2' }, '/repo/')
  assert.deepEqual(candidates, [
    '/x/bin',
    '/p1/sandbox-rpc',
    '/p2/sandbox-rpc',
    '/repo/.build/release/sandbox-rpc',
    '/repo/.build/debug/sandbox-rpc',
  ])
})

test('findBridge: env var wins, then the first executable on PATH, then release, then debug', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-rpc-locate-'))
  try {
    for (const sub of ['p1', 'p2', 'repo/.build/release', 'repo/.build/debug']) mkdirSync(join(dir, sub), { recursive: true })
    const make = (rel, mode = 0o755) => {
      const path = join(dir, rel)
      writeFileSync(path, '#!/bin/sh\n')
      chmodSync(path, mode)
      return path
    }
    const repo = join(dir, 'repo')
    const env = (extra = {}) => ({ PATH: `${join(dir, 'p1')}:${join(dir, 'p2')}`, ...extra })

    assert.equal(findBridge(env(), repo), undefined)
    const debug = make('repo/.build/debug/sandbox-rpc')
    assert.equal(findBridge(env(), repo), debug)
    const release = make('repo/.build/release/sandbox-rpc')
    assert.equal(findBridge(env(), repo), release)
    make('p1/sandbox-rpc', 0o644) // not executable: skipped
    const onPath = make('p2/sandbox-rpc')
    assert.equal(findBridge(env(), repo), onPath)
    assert.equal(findBridge(env({ SANDBOX_RPC_BIN: '/explicit/sandbox-rpc' }), repo), '/explicit/sandbox-rpc')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
