import Testing

@testable import Schema

@Suite struct PropertyStringTests {
    static let net = PropertyStringFormat(
        [
            "model": .string(enum: ["virtio", "e1000", "rtl8139", "vmxnet3"]),
            "macaddr": Schema.string(format: "mac-addr").optional(),
            "bridge": Schema.string(format: "pve-bridge-id").optional(),
            "tag": Schema.integer(minimum: 1, maximum: 4094).optional(),
            "firewall": Schema.boolean().optional(),
            "rate": Schema.number(minimum: 0).optional(),
        ], defaultKey: "model")

    @Test func parsesDefaultKeyAndTypes() throws {
        let values = try PropertyString.parse("virtio,bridge=vmbr0,tag=10,firewall=1,rate=12.5", format: Self.net)
        #expect(values == ["model": "virtio", "bridge": "vmbr0", "tag": 10, "firewall": true, "rate": 12.5])
    }

    @Test func printsBackLosslessly() throws {
        let text = "virtio,bridge=vmbr0,firewall=1,tag=10"
        let values = try PropertyString.parse(text, format: Self.net)
        let printed = PropertyString.print(values, format: Self.net)
        #expect(try PropertyString.parse(printed, format: Self.net) == values)
        #expect(printed.hasPrefix("virtio,"))
    }

    @Test func quotedValuesCarryCommas() throws {
        let pairs = try PropertyString.split(#"a=1,b="x,y=\"z\"",c=3"#)
        #expect(pairs.map(\.value) == ["1", #"x,y="z""#, "3"])
        #expect(PropertyString.quoteIfNeeded("x,y") == #""x,y""#)
    }

    @Test(arguments: [
        ("virtio,bogus=1", "unknown key 'bogus'"),
        ("virtio,tag=1,tag=2", "duplicate key"),
        ("virtio,tag=5000", "maximum value of 4094"),
        ("virtio,tag=abc", "type check ('integer') failed"),
        ("ne2k", "does not have a value in the enumeration"),
        ("virtio,,tag=1", "empty element"),
        ("virtio,=1", "empty key"),
        (#"virtio,bridge="vmbr0"#, "unterminated"),
        ("bridge=vmbr0", "property 'model' is missing"),
    ])
    func rejectsBadStrings(_ text: String, _ expected: String) {
        do {
            _ = try PropertyString.parse(text, format: Self.net)
            Issue.record("accepted '\(text)'")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}
