import Protocol
import Testing

@Suite struct MCPRevisionTests {
    @Test func answersTheClientsRevisionWhenKnownElseTheNewest() {
        #expect(MCP.Revision.negotiate("2025-06-18") == "2025-06-18")
        #expect(MCP.Revision.negotiate("2024-11-05") == "2024-11-05")
        #expect(MCP.Revision.negotiate("2026-07-28") == "2025-11-25")  // no handshake in the modern era
        #expect(MCP.Revision.negotiate("tomorrow") == "2025-11-25")
        #expect(MCP.Revision.negotiate(nil) == "2025-11-25")
    }

    @Test func structuredOutputFrom2025_06_18On() {
        #expect(!MCP.Revision.hasStructuredOutput("2025-03-26"))
        #expect(MCP.Revision.hasStructuredOutput("2025-06-18"))
        #expect(MCP.Revision.hasStructuredOutput("2026-07-28"))
        #expect(!MCP.Revision.hasToolAnnotations("2024-11-05"))
        #expect(MCP.Revision.hasToolAnnotations("2025-03-26"))
    }
}

@Suite struct MCPEraTests {
    func meta(_ object: JSONValue) throws -> MCP.RequestMeta {
        try JSONValueDecoder().decode(MCP.RequestMeta.self, from: object)
    }

    @Test func noEnvelopeIsTheHandshakeEra() throws {
        #expect(try MCP.Era(nil) == .handshake)
        #expect(try MCP.Era(meta(["progressToken": 3])) == .handshake)
    }

    @Test func theModernEnvelope() throws {
        let modern = try meta([
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": [:],
        ])
        #expect(try MCP.Era(modern) == .modern("2026-07-28"))
    }

    @Test func anUnknownModernRevisionNamesTheSupportedOnes() throws {
        let future = try meta([
            "io.modelcontextprotocol/protocolVersion": "2099-01-01",
            "io.modelcontextprotocol/clientCapabilities": [:],
        ])
        #expect(throws: RPCError.unsupportedProtocolVersion(requested: "2099-01-01", supported: ["2026-07-28"])) {
            try MCP.Era(future)
        }
        let error = RPCError.unsupportedProtocolVersion(requested: "2099-01-01", supported: ["2026-07-28"])
        #expect(error.code == -32022)
        #expect(error.data["supported"] == ["2026-07-28"])
        #expect(error.data["requested"] == "2099-01-01")
    }

    @Test func capabilitiesAreRequired() throws {
        let bare = try meta(["io.modelcontextprotocol/protocolVersion": "2026-07-28"])
        #expect(throws: RPCError.invalidParams(
            field: "_meta.io.modelcontextprotocol/clientCapabilities", reason: "is required with protocol 2026-07-28")) {
            try MCP.Era(bare)
        }
    }
}
