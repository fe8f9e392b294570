// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "sandbox-rpc",
    products: [
        .executable(name: "sandbox-rpc", targets: ["SandboxRPC"]),
        .library(name: "Protocol", targets: ["Protocol"]),
    ],
    targets: [
        // The wire: JSON values, JSON-RPC envelopes, framing, typed params and results. No I/O.
        .target(name: "Protocol"),
        // What Swift cannot say safely: fork/exec with setsid, PDEATHSIG and fd passing.
        .target(name: "CSandboxShims"),
        .executableTarget(
            name: "SandboxRPC",
            dependencies: ["Protocol", "CSandboxShims"]
        ),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "SandboxRPCTests", dependencies: ["SandboxRPC"]),
    ],
    swiftLanguageModes: [.v6]
)
