// `sandbox.files`: E2B's Filesystem module as thin calls over `files.*`.

import { InvalidArgumentError, SandboxError } from './errors.js'

/** Entry types, as in E2B. */
export const FileType = Object.freeze({ FILE: 'file', DIR: 'dir', SYMLINK: 'symlink' })

const TYPE_CHAR = { file: '-', dir: 'd', symlink: 'l' }

/** "-rw-r--r--" from a numeric mode. */
export function permissionsString(type, mode) {
  const rwx = 'rwxrwxrwx'
  let out = TYPE_CHAR[type] ?? '-'
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? rwx[i] : '-'
  return out
}

function basename(path) {
  const trimmed = path.replace(/\/+$/, '')
  return trimmed.slice(trimmed.lastIndexOf('/') + 1)
}

function entryInfo(entry) {
  return {
    ...entry,
    name: entry.name ?? basename(entry.path),
    type: entry.type,
    path: entry.path,
    size: entry.size,
    mode: entry.mode,
    permissions: entry.permissions ?? permissionsString(entry.type, entry.mode ?? 0),
    modifiedTime: entry.modifiedTime === undefined ? undefined : new Date(entry.modifiedTime * 1000),
  }
}

async function toBytes(data) {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (typeof Blob !== 'undefined' && data instanceof Blob) return new Uint8Array(await data.arrayBuffer())
  if (data && typeof data.getReader === 'function') {
    const chunks = []
    const reader = data.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(typeof value === 'string' ? Buffer.from(value) : value)
    }
    return new Uint8Array(Buffer.concat(chunks))
  }
  throw new InvalidArgumentError('data must be a string, ArrayBuffer, Uint8Array, Blob or ReadableStream', {
    kind: 'InvalidParams',
  })
}

export class Filesystem {
  #bridge
  #sandboxId
  #available

  /** @internal */
  constructor(bridge, sandboxId, available) {
    this.#bridge = bridge
    this.#sandboxId = sandboxId
    this.#available = available
  }

  #request(method, params) {
    if (!this.#available) {
      return Promise.reject(new SandboxError('the bridge lacks the files capability', { kind: 'Unsupported' }))
    }
    return this.#bridge.request(method, { sandboxId: this.#sandboxId, ...params })
  }

  /**
   * Reads a file. `format`: "text" (default, string), "bytes" (Uint8Array),
   * "blob" (Blob) or "stream" (ReadableStream of Uint8Array).
   */
  async read(path, { format = 'text' } = {}) {
    if (format === 'text') return (await this.#request('files.read', { path, encoding: 'utf8' })).content
    const { content } = await this.#request('files.read', { path, encoding: 'base64' })
    const bytes = new Uint8Array(Buffer.from(content, 'base64'))
    if (format === 'bytes') return bytes
    if (format === 'blob') return new Blob([bytes])
    if (format === 'stream') {
      return new ReadableStream({
        start(controller) {
          controller.enqueue(bytes)
          controller.close()
        },
      })
    }
    throw new InvalidArgumentError(`unknown format ${JSON.stringify(format)}`, { kind: 'InvalidParams' })
  }

  /**
   * Writes a file (parents are created): `write(path, data)` → WriteInfo, or
   * `write([{path, data}, ...])` → WriteInfo[].
   */
  async write(pathOrFiles, data) {
    if (Array.isArray(pathOrFiles)) {
      const infos = []
      for (const file of pathOrFiles) infos.push(await this.write(file.path, file.data))
      return infos
    }
    const params =
      typeof data === 'string'
        ? { path: pathOrFiles, content: data, encoding: 'utf8' }
        : { path: pathOrFiles, content: Buffer.from(await toBytes(data)).toString('base64'), encoding: 'base64' }
    const result = await this.#request('files.write', params)
    const path = result.path ?? pathOrFiles
    return { name: basename(path), type: FileType.FILE, path }
  }

  /** Lists a directory, `depth` levels deep (default 1). */
  async list(path, { depth = 1 } = {}) {
    if (depth < 1) throw new InvalidArgumentError('depth should be at least 1', { kind: 'InvalidParams' })
    const { entries } = await this.#request('files.list', { path, depth })
    return entries.map(entryInfo)
  }

  async exists(path) {
    return (await this.#request('files.exists', { path })).exists
  }

  async getInfo(path) {
    return entryInfo(await this.#request('files.info', { path }))
  }

  async remove(path) {
    await this.#request('files.remove', { path })
  }

  /** Renames `oldPath` to `newPath`; resolves the new entry's info. */
  async rename(oldPath, newPath) {
    const result = await this.#request('files.rename', { from: oldPath, to: newPath })
    return result && result.path !== undefined ? entryInfo(result) : this.getInfo(newPath)
  }

  /** Creates a directory (and parents). False when it already existed. */
  async makeDir(path) {
    return (await this.#request('files.makeDir', { path })).created
  }

  /** Not supported by sandbox-rpc (there is no watch method on the wire). */
  async watchDir() {
    throw new SandboxError('watchDir is not supported by sandbox-rpc', { kind: 'Unsupported' })
  }
}
