import Testing

@testable import Schema

@Suite struct ValidatorTests {
    static let schema = Schema.object([
        "node": .node,
        "vmid": Schema.vmid.optional(),
        "limit": Schema.integer(minimum: 0).defaulting(to: 50),
        "full": Schema.boolean().optional(),
        "ratio": Schema.number(minimum: 0, maximum: 1).optional(),
        "name": Schema.string(pattern: "[a-z]+", maxLength: 8).optional(),
        "ids": Schema.array(of: .vmid).optional(),
    ])

    func errors(_ raw: [String: RawParameter]) -> [String: String] {
        if case .failure(let e) = Validator.validate(raw, against: Self.schema) { return e.errors }
        return [:]
    }

    @Test func convertsFormTextToTypes() throws {
        let result = Validator.validate(
            [
                "node": .text("pve1"), "vmid": .text("100"), "full": .text("yes"), "ratio": .text("0.5"),
                "ids": .repeated([.text("100"), .text("101")]),
            ],
            against: Self.schema)
        let typed = try result.get()
        #expect(typed["vmid"] == .int(100))
        #expect(typed["full"] == .bool(true))
        #expect(typed["ratio"] == .number(0.5))
        #expect(typed["ids"] == [100, 101])
    }

    @Test func reportsEachBadParameterInPVEWording() {
        let e = errors([
            "vmid": .text("99"), "limit": .text("12a"), "full": .text("maybe"), "ratio": .text("2"),
            "name": .text("ABC"), "extra": .text("1"),
        ])
        #expect(e["node"] == "property is missing and it is not optional")
        #expect(e["vmid"] == "value must have a minimum value of 100")
        #expect(e["limit"] == "type check ('integer') failed - got '12a'")
        #expect(e["full"] == "type check ('boolean') failed - got 'maybe'")
        #expect(e["ratio"] == "value must have a maximum value of 1")
        #expect(e["name"] == "value does not match the regex pattern")
        #expect(e["extra"] == "property is not defined in schema and the schema does not allow additional properties")
    }

    @Test func rejectsOverflowAndRepeats() {
        #expect(errors(["node": .text("a"), "limit": .text("99999999999999999999999")])["limit"]?.contains("type check") == true)
        #expect(errors(["node": .repeated([.text("a"), .text("b")])])["node"]?.contains("duplicate parameter") == true)
        #expect(errors(["node": .json(.array(["x"]))])["node"]?.contains("type check ('string')") == true)
    }

    @Test func jsonValuesKeepTheirTypes() throws {
        let typed = try Validator.validate(["node": .json("n1"), "limit": .json(5), "full": .json(false)], against: Self.schema).get()
        #expect(typed["limit"] == .int(5))
        #expect(typed["full"] == .bool(false))
        #expect(errors(["node": .json("n1"), "limit": .json(1.5)])["limit"] != nil)
    }
}
