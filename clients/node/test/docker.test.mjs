// Docker sandboxes (isolation "docker") and image/template against the real bridge. The docker
// tests are skipped without a Docker Engine and a static agent (with CI=true they fail).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvalidArgumentError, Sandbox } from 'sandbox-rpc'
import { BIN, DOCKER_BRIDGE_ARGS, DOCKER_IMAGE, SKIP_NO_BRIDGE, containersOfBridge, dockerSkip } from '../test-support/bridge.mjs'

const T = { timeout: 30_000, skip: SKIP_NO_BRIDGE }
const DOCKER = { timeout: 60_000, skip: await dockerSkip() }
const MISSING_IMAGE = 'sandbox-rpc-no-such-image:latest'

const docker = { bridgePath: BIN, bridgeArgs: DOCKER_BRIDGE_ARGS, isolation: 'docker' }

function isInvalidImage(error) {
  return error instanceof InvalidArgumentError && error.kind === 'InvalidParams' && error.data?.field === 'image'
}

function assertNoContainersLeft(sandbox) {
  const left = containersOfBridge(sandbox.bridgePid)
  assert.ok(!left?.length, `containers of bridge ${sandbox.bridgePid} outlived kill(): ${left}`)
}

test('a docker sandbox runs commands as "user" in /home/user and keeps files', DOCKER, async () => {
  const sandbox = await Sandbox.create(docker)
  try {
    assert.equal(sandbox.isolation, 'docker')
    assert.equal(sandbox.home, '/home/user')
    const result = await sandbox.commands.run('id -un; echo hi')
    assert.deepEqual([result.stdout, result.stderr, result.exitCode], ['user\nhi\n', '', 0])
    const written = await sandbox.files.write('notes/hello.txt', 'héllo\n')
    assert.equal(written.path, '/home/user/notes/hello.txt')
    assert.equal(await sandbox.files.read('notes/hello.txt'), 'héllo\n')
    assert.equal((await sandbox.commands.run('cat /home/user/notes/hello.txt')).stdout, 'héllo\n')
  } finally {
    assert.equal(await sandbox.kill(), true)
  }
  assertNoContainersLeft(sandbox)
})

test('image with another isolation is InvalidParams; a template there stays ignored', T, async () => {
  await assert.rejects(Sandbox.create({ bridgePath: BIN, isolation: 'none', image: DOCKER_IMAGE }), isInvalidImage)
  const sandbox = await Sandbox.create('base', { bridgePath: BIN, isolation: 'none' })
  try {
    assert.equal(sandbox.isolation, 'none')
    assert.equal((await sandbox.commands.run('echo ok')).stdout, 'ok\n')
  } finally {
    await sandbox.kill()
  }
})

test('the template is the image of a docker sandbox; an explicit image wins', DOCKER, async () => {
  const sandbox = await Sandbox.create(DOCKER_IMAGE, docker)
  try {
    assert.equal((await sandbox.commands.run('id -un')).stdout, 'user\n')
  } finally {
    await sandbox.kill()
  }
  assertNoContainersLeft(sandbox)
  await assert.rejects(Sandbox.create(MISSING_IMAGE, docker), isInvalidImage)
  const chosen = await Sandbox.create(MISSING_IMAGE, { ...docker, image: DOCKER_IMAGE })
  try {
    assert.equal((await chosen.commands.run('echo hi')).stdout, 'hi\n')
  } finally {
    await chosen.kill()
  }
  assertNoContainersLeft(chosen)
})
