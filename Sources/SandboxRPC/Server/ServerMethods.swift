import Protocol

/// Every method of the protocol, registered once: name → typed handler → sandbox operation.
enum ServerMethods {
    static func table(registry: SandboxRegistry, lifecycle: Lifecycle) -> MethodTable {
        var table = MethodTable()

        table.register(Initialize.self) { _, _ in
            Initialize.Result(
                serverInfo: .init(name: "sandbox-rpc", version: Version.current),
                protocolVersion: 1,
                capabilities: .init(isolation: registry.availableIsolations.map(\.rawValue), pty: true, files: true))
        }
        table.register(Ping.self, on: .reactor) { _, _ in Empty() }
        table.register(Shutdown.self) { _, context in
            context.afterResponse { await lifecycle.terminate(reason: "shutdown requested") }
            await registry.killAll()
            return Empty()
        }

        table.register(SandboxCreate.self) { params, _ in try await registry.create(params) }
        table.register(SandboxKill.self) { params, _ in Killed(killed: try await registry.kill(params.sandboxId)) }
        table.register(SandboxList.self) { _, _ in SandboxList.Result(sandboxes: await registry.list()) }
        table.register(SandboxSetTimeout.self) { params, _ in
            try await registry.setTimeout(params.sandboxId, seconds: params.timeout)
            return Empty()
        }
        table.register(SandboxGetHost.self) { params, _ in
            guard (1...65535).contains(params.port) else {
                throw RPCError.invalidParams(field: "port", reason: "must be a TCP port from 1 to 65535")
            }
            return SandboxGetHost.Result(host: try await registry.sandbox(params.sandboxId).getHost(port: params.port))
        }

        table.register(CommandsRun.self, on: .reactor) { params, context in
            try await registry.sandbox(params.sandboxId).run(params, context: context)
        }
        table.register(CommandsList.self, on: .reactor) { params, _ in
            CommandsList.Result(processes: try await registry.sandbox(params.sandboxId).list())
        }
        table.register(CommandsKill.self, on: .reactor) { params, _ in
            Killed(killed: try await registry.sandbox(params.sandboxId).kill(pid: params.pid, signal: params.signal ?? .kill))
        }
        table.register(CommandsSendStdin.self) { params, _ in
            let bytes = try decode(params.data, params.encoding, field: "data")
            try await registry.sandbox(params.sandboxId).sendStdin(pid: params.pid, data: bytes)
            return Empty()
        }
        table.register(CommandsCloseStdin.self, on: .reactor) { params, _ in
            try await registry.sandbox(params.sandboxId).closeStdin(pid: params.pid)
            return Empty()
        }
        table.register(CommandsConnect.self, on: .reactor) { params, context in
            try await registry.sandbox(params.sandboxId).connect(pid: params.pid, context: context)
        }
        table.register(CommandsDisconnect.self, on: .reactor) { params, _ in
            try await registry.sandbox(params.sandboxId).disconnect(pid: params.pid)
            return Empty()
        }
        table.register(CommandsWait.self, on: .reactor) { params, _ in
            if let timeout = params.timeout, !(timeout >= 0 && timeout.isFinite) {
                throw RPCError.invalidParams(field: "timeout", reason: "must be a number of seconds >= 0")
            }
            return try await registry.sandbox(params.sandboxId).wait(pid: params.pid, timeout: params.timeout)
        }
        table.register(CommandsSnapshot.self, on: .reactor) { params, _ in
            try await registry.sandbox(params.sandboxId).snapshot(
                pid: params.pid, since: params.since ?? .zero, budget: max(0, params.budget ?? 16 * 1024))
        }

        table.register(PtyCreate.self, on: .reactor) { params, context in
            PtyCreate.Result(pid: try await registry.sandbox(params.sandboxId).createPty(params, context: context))
        }
        table.register(PtySendInput.self) { params, _ in
            let bytes = try decode(params.data, .base64, field: "data")
            try await registry.sandbox(params.sandboxId).sendPtyInput(pid: params.pid, data: bytes)
            return Empty()
        }
        table.register(PtyResize.self, on: .reactor) { params, _ in
            try await registry.sandbox(params.sandboxId).resizePty(pid: params.pid, cols: params.cols, rows: params.rows)
            return Empty()
        }

        table.register(FilesRead.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            if let offset = params.offset, offset < 0 { throw RPCError.invalidParams(field: "offset", reason: "must be >= 0") }
            if let length = params.length, length < 0 { throw RPCError.invalidParams(field: "length", reason: "must be >= 0") }
            let chunked = params.offset != nil || params.length != nil
            let (bytes, size) = try await registry.sandbox(params.sandboxId).files.read(
                params.path, offset: params.offset ?? 0, length: params.length)
            let content = switch params.encoding ?? .utf8 {
            case .utf8: String(decoding: bytes, as: UTF8.self)
            case .base64: Base64.encode(bytes)
            }
            return FilesRead.Result(content: content, size: chunked ? size : nil)
        }
        table.register(FilesWrite.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            let bytes = try decode(params.content, params.encoding, field: "content")
            let path = try await registry.sandbox(params.sandboxId).files.write(params.path, bytes, append: params.append ?? false)
            return FilesWrite.Result(path: path, size: bytes.count)
        }
        table.register(FilesList.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            let depth = params.depth ?? 1
            guard depth >= 1 else { throw RPCError.invalidParams(field: "depth", reason: "should be at least 1") }
            return FilesList.Result(entries: try await registry.sandbox(params.sandboxId).files.list(params.path, depth: depth))
        }
        table.register(FilesExists.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            return FilesExists.Result(exists: try await registry.sandbox(params.sandboxId).files.exists(params.path))
        }
        table.register(FilesRemove.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            try await registry.sandbox(params.sandboxId).files.remove(params.path)
            return Empty()
        }
        table.register(FilesRename.self) { params, _ in
            try InputChecks.path(params.from, field: "from")
            try InputChecks.path(params.to, field: "to")
            return try await registry.sandbox(params.sandboxId).files.rename(from: params.from, to: params.to)
        }
        table.register(FilesMakeDir.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            return FilesMakeDir.Result(created: try await registry.sandbox(params.sandboxId).files.makeDir(params.path))
        }
        table.register(FilesInfo.self) { params, _ in
            try InputChecks.path(params.path, field: "path")
            return try await registry.sandbox(params.sandboxId).files.info(params.path)
        }
        return table
    }

    /// Bytes from wire text in the given encoding.
    static func decode(_ text: String, _ encoding: OutputEncoding?, field: String) throws(RPCError) -> [UInt8] {
        switch encoding ?? .utf8 {
        case .utf8: return Array(text.utf8)
        case .base64:
            guard let bytes = Base64.decode(text) else { throw .invalidParams(field: field, reason: "is not valid base64") }
            return bytes
        }
    }
}

enum Version {
    static let current = "0.1.0"
}
