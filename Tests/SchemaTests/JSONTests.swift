import Testing

@testable import Schema

@Suite struct JSONTests {
    @Test func roundTripsEveryKind() throws {
        let value: JSON = ["a": [1, 2.5, "x", true, nil], "b": ["nested": "é\n\"q\""], "c": -9_223_372_036_854_775_807]
        let text = value.jsonString
        #expect(try JSONParser.parse(text) == value)
        #expect(text == #"{"a":[1,2.5,"x",true,null],"b":{"nested":"é\n\"q\""},"c":-9223372036854775807}"#)
    }

    /// Small objects are ordered on the stack, large ones by a sort: both give the keys in order.
    @Test(arguments: [0, 1, 2, 7, 32, 33, 200])
    func objectKeysComeOutSorted(count: Int) throws {
        var fields: [String: JSON] = [:]
        for i in 0..<count { fields["k\((i * 7919) % 1000)-\(i)"] = .int(Int64(i)) }
        let text = JSON.object(fields).jsonString
        let keys = fields.keys.sorted()
        #expect(text == "{" + keys.map { "\"\($0)\":\(fields[$0]!.jsonString)" }.joined(separator: ",") + "}")
        #expect(try JSONParser.parse(text) == .object(fields))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"\\x\"", "\"\u{01}\"", "[1] 2", "{\"a\" 1}",
        "\"\\ud800\"", "1e999", "{\"a\":1,\"a\":2}",
    ])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func integersBeyondInt64BecomeNumbers() throws {
        #expect(try JSONParser.parse("18446744073709551615") == .number(1.8446744073709552e19))
        #expect(try JSONParser.parse("\"\\ud83d\\ude00\"") == .string("😀"))
    }
}
