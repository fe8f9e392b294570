// files.* against the real bridge (skipped when it lacks the capability).

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { FileNotFoundError, FileType, InvalidArgumentError, NotFoundError, SandboxError } from 'sandbox-rpc'
import { SKIP_NO_FILES, createSandbox } from '../test-support/bridge.mjs'

const T = { timeout: 30_000, skip: SKIP_NO_FILES }

describe('files', () => {
  let sandbox
  before(async () => {
    if (!T.skip) sandbox = await createSandbox()
  })
  after(async () => {
    await sandbox?.kill()
  })

  test('write creates parents; read gives the text back; relative paths start at home', T, async () => {
    const info = await sandbox.files.write('notes/deep/a.txt', 'héllo\n')
    assert.deepStrictEqual(info, { name: 'a.txt', type: FileType.FILE, path: `${sandbox.home}/notes/deep/a.txt` })
    assert.equal(await sandbox.files.read('notes/deep/a.txt'), 'héllo\n')
    assert.equal(await sandbox.files.read(`${sandbox.home}/notes/deep/a.txt`), 'héllo\n')
    const viaShell = await sandbox.commands.run('cat notes/deep/a.txt')
    assert.equal(viaShell.stdout, 'héllo\n', 'the default command cwd is the same home')
  })

  test('bytes round-trip exactly, including invalid UTF-8', T, async () => {
    const bytes = new Uint8Array([0, 1, 0xe2, 0x82, 0xff, 0x0a, 0x80])
    await sandbox.files.write('bin.dat', bytes)
    assert.deepEqual(await sandbox.files.read('bin.dat', { format: 'bytes' }), bytes)
    const blob = await sandbox.files.read('bin.dat', { format: 'blob' })
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes)
    const stream = await sandbox.files.read('bin.dat', { format: 'stream' })
    const chunks = []
    for await (const chunk of stream) chunks.push(...chunk)
    assert.deepEqual(new Uint8Array(chunks), bytes)
    const size = await sandbox.commands.run('stat -c %s bin.dat')
    assert.equal(size.stdout, '7\n')
  })

  test('write accepts many files at once', T, async () => {
    const infos = await sandbox.files.write([
      { path: 'many/1.txt', data: 'one' },
      { path: 'many/2.txt', data: new TextEncoder().encode('two') },
    ])
    assert.deepEqual(
      infos.map((i) => i.name),
      ['1.txt', '2.txt'],
    )
    assert.equal(await sandbox.files.read('many/2.txt'), 'two')
  })

  test('reading a missing file is FileNotFoundError (a NotFoundError)', T, async () => {
    const error = await sandbox.files.read('nope.txt').catch((e) => e)
    assert.ok(error instanceof FileNotFoundError, `got ${error}`)
    assert.ok(error instanceof NotFoundError)
    assert.equal(error.kind, 'FileNotFound')
  })

  test('list: entries with name, absolute path, type, size, permissions; depth', T, async () => {
    await sandbox.files.write('tree/a.txt', 'abc')
    await sandbox.files.write('tree/sub/b.txt', 'b')
    const top = await sandbox.files.list('tree')
    const byName = Object.fromEntries(top.map((e) => [e.name, e]))
    assert.deepEqual(Object.keys(byName).sort(), ['a.txt', 'sub'])
    assert.equal(byName['a.txt'].type, FileType.FILE)
    assert.equal(byName['a.txt'].path, `${sandbox.home}/tree/a.txt`)
    assert.equal(byName['a.txt'].size, 3)
    assert.match(byName['a.txt'].permissions, /^-[r-][w-][x-]/)
    assert.ok(byName['a.txt'].modifiedTime instanceof Date)
    assert.equal(byName.sub.type, FileType.DIR)
    const deep = await sandbox.files.list('tree', { depth: 2 })
    assert.deepEqual(deep.map((e) => e.path.slice(sandbox.home.length + 1)).sort(), ['tree/a.txt', 'tree/sub', 'tree/sub/b.txt'])
    await assert.rejects(sandbox.files.list('tree', { depth: 0 }), (e) => e instanceof InvalidArgumentError && e.message === 'depth should be at least 1')
  })

  test('exists, getInfo, rename, remove, makeDir', T, async () => {
    await sandbox.files.write('r/x.txt', 'x')
    assert.equal(await sandbox.files.exists('r/x.txt'), true)
    assert.equal(await sandbox.files.exists('r/y.txt'), false)
    const info = await sandbox.files.getInfo('r/x.txt')
    assert.equal(info.name, 'x.txt')
    assert.equal(info.size, 1)
    const renamed = await sandbox.files.rename('r/x.txt', 'r/y.txt')
    assert.equal(renamed.path, `${sandbox.home}/r/y.txt`)
    assert.equal(await sandbox.files.exists('r/x.txt'), false)
    assert.equal(await sandbox.files.read('r/y.txt'), 'x')
    await sandbox.files.remove('r')
    assert.equal(await sandbox.files.exists('r'), false)
    assert.equal(await sandbox.files.makeDir('made/here'), true)
    assert.equal(await sandbox.files.makeDir('made/here'), false)
    assert.equal((await sandbox.files.getInfo('made/here')).type, FileType.DIR)
  })

  test('watchDir is not supported', T, async () => {
    await assert.rejects(sandbox.files.watchDir('.'), (e) => e instanceof SandboxError && e.kind === 'Unsupported')
  })
})
