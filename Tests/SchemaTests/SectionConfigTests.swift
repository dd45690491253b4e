import Foundation
import Testing

@testable import Schema

@Suite struct SectionConfigTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures/sectionconfig", withExtension: nil)!

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter { $0.hasSuffix(".cfg") }.sorted()
    }

    @Test(arguments: cases)
    func filesInPVELayoutRoundTripByteForByte(_ name: String) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8)
        let config = try SectionConfig.parse(text, file: name)
        #expect(!config.sections.isEmpty)
        #expect(config.serialized() == text)
    }

    @Test func optionsFlagsAndCommentsAreKept() throws {
        let text = "# top\ndir: a\n\tpath /x\n\tdisable\n\tcontent images\n\tcontent iso\n"
        var config = try SectionConfig.parse(text, file: "t.cfg")
        let a = try #require(config["a"])
        #expect(a.type == "dir" && a["disable"] == "1" && a["content"] == "iso" && a.comments == ["# top"])
        config["a"]!["content"] = "rootdir"
        config["b"] = SectionConfig.Section(type: "dir", id: "b", options: [.init("path", "/y")])
        #expect(config.serialized() == "# top\ndir: a\n\tpath /x\n\tdisable\n\tcontent rootdir\n\ndir: b\n\tpath /y\n")
        config["a"] = nil
        #expect(config.sections.map(\.id) == ["b"])
    }

    @Test func looseLayoutIsReadAndWrittenCanonically() throws {
        let text = "dir:   a  \n    path /x   \n\n\n\nlvmthin: b\r\n  vgname pve\n"
        let config = try SectionConfig.parse(text, file: "t.cfg")
        #expect(config.serialized() == "dir: a\n\tpath /x\n\nlvmthin: b\n\tvgname pve\n")
    }

    @Test(arguments: [
        ("\tpath /x\n", 1, "an option outside a section"),
        ("dir a\n", 1, "expected 'type: id'"),
        ("dir: a\n\ndir: a\n", 3, "'a' is defined twice"),
        ("dir: \n", 1, "expected 'type: id'"),
    ])
    func badFilesNameTheLine(text: String, line: Int, message: String) {
        #expect(throws: SectionConfigError(file: "s.cfg", line: line, message)) { try SectionConfig.parse(text, file: "s.cfg") }
    }

    @Test func aSchemaChecksSectionsPerType() {
        let schema = SectionConfigSchema(
            file: "storage.cfg", id: .string(format: "pve-storage-id"),
            types: [
                "dir": ["path": .string(), "content": .string().optional(), "shared": .boolean().optional()],
                "lvmthin": ["vgname": .string(), "thinpool": .string()],
            ])
        let good = SectionConfig.Section(type: "dir", id: "local", options: [.init("path", "/x"), .init("shared", "1")])
        #expect(schema.check(good, idKey: "storage").isEmpty)
        let bad = SectionConfig.Section(type: "dir", id: "1bad", options: [.init("shared", "maybe"), .init("vgname", "pve")])
        let errors = schema.check(bad, idKey: "storage")
        #expect(errors["path"] != nil)
        #expect(errors["shared"] != nil)
        #expect(errors["vgname"] == "not an option of type 'dir'")
        #expect(errors["storage"] != nil)
        #expect(schema.check(SectionConfig.Section(type: "zfs", id: "z"))["type"]?.hasPrefix("unknown type 'zfs'") == true)
    }
}
