import Testing

@testable import Schema

@Suite struct JSONTests {
    @Test func roundTripsEveryKind() throws {
        let value: JSON = ["a": [1, 2.5, "x", true, nil], "b": ["nested": "é\n\"q\""], "c": -9_223_372_036_854_775_807]
        let text = value.jsonString
        #expect(try JSONParser.parse(text) == value)
        #expect(text == #"{"a":[1,2.5,"x",true,null],"b":{"nested":"é\n\"q\""},"c":-9223372036854775807}"#)
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
