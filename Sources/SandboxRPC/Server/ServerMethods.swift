import Protocol

/// Every method of the protocol, registered once: name → typed handler → sandbox operation.
enum ServerMethods {
    static func table(registry: SandboxRegistry, lifecycle: Lifecycle) -> MethodTable {
        var table = MethodTable()

        table.register(Initialize.self) { _, _ in
            Initialize.Result(
                serverInfo: .init(name: "sandbox-rpc", version: Version.current),
                protocolVersion: 1,
                capabilities: .init(isolation: registry.availableIsolations.map(\.rawValue), pty: false, files: false))
        }
        table.register(Ping.self) { _, _ in Empty() }
        table.register(Shutdown.self) { _, context in
            context.afterResponse { await lifecycle.terminate(reason: "shutdown requested") }
            await registry.killAll()
            return Empty()
        }

        table.register(SandboxCreate.self) { params, _ in try await registry.create(params) }
        table.register(SandboxKill.self) { params, _ in Killed(killed: await registry.kill(params.sandboxId)) }
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

        table.register(CommandsRun.self) { params, context in
            try await registry.sandbox(params.sandboxId).run(params, context: context)
        }
        table.register(CommandsList.self) { params, _ in
            CommandsList.Result(processes: try await registry.sandbox(params.sandboxId).list())
        }
        table.register(CommandsKill.self) { params, _ in
            Killed(killed: try await registry.sandbox(params.sandboxId).kill(pid: params.pid, signal: params.signal ?? .kill))
        }
        table.register(CommandsSendStdin.self) { params, _ in
            let bytes: [UInt8]
            switch params.encoding ?? .utf8 {
            case .utf8: bytes = Array(params.data.utf8)
            case .base64:
                guard let decoded = Base64.decode(params.data) else {
                    throw RPCError.invalidParams(field: "data", reason: "is not valid base64")
                }
                bytes = decoded
            }
            try await registry.sandbox(params.sandboxId).sendStdin(pid: params.pid, data: bytes)
            return Empty()
        }
        table.register(CommandsCloseStdin.self) { params, _ in
            try await registry.sandbox(params.sandboxId).closeStdin(pid: params.pid)
            return Empty()
        }
        table.register(CommandsConnect.self) { params, context in
            try await registry.sandbox(params.sandboxId).connect(pid: params.pid, context: context)
        }
        table.register(CommandsDisconnect.self) { params, _ in
            try await registry.sandbox(params.sandboxId).disconnect(pid: params.pid)
            return Empty()
        }
        table.register(CommandsWait.self) { params, _ in
            if let timeout = params.timeout, !(timeout >= 0 && timeout.isFinite) {
                throw RPCError.invalidParams(field: "timeout", reason: "must be a number of seconds >= 0")
            }
            return try await registry.sandbox(params.sandboxId).wait(pid: params.pid, timeout: params.timeout)
        }
        return table
    }
}

enum Version {
    static let current = "0.1.0"
}
