/// Where a sandbox's agent runs: a bwrap process on this host, a container of a Docker Engine.
protocol AgentHost: Sendable {
    /// The agent (and with it the sandbox's processes) is gone.
    var hasExited: Bool { get }
    /// Ends the sandbox for certain, once its agent has had the chance to clean up.
    func kill() async
    /// A `host:port` from which a client on this machine reaches `port` inside the sandbox.
    func host(forPort port: Int) async throws -> String
}
