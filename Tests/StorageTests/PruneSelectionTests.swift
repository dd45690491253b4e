import Foundation
import Testing

@testable import Storage

@Suite struct PruneSelectionTests {
    /// Backups every 6 hours over 20 days, newest first by ctime.
    static func entries(days: Int = 20, every hours: Int = 6) -> [PruneSelection.Entry] {
        let start: Int64 = 1_796_000_000 - 1_796_000_000 % 86400  // midnight UTC
        return (0..<(days * 24 / hours)).map { i in PruneSelection.Entry(id: "b\(i)", ctime: start + Int64(i * hours * 3600), protected: false) }
    }

    @Test func archiveNamesGiveTypeGuestAndTime() {
        let archive = BackupArchive(name: "backup/vzdump-qemu-100-2026_12_04-09_30_00.vma.zst")
        #expect(archive?.type == "qemu" && archive?.vmid == 100 && archive?.ctime == 1_796_376_600)
        #expect(archive?.protectedPath(directory: "/d") == "/d/vzdump-qemu-100-2026_12_04-09_30_00.vma.zst.protected")
        #expect(BackupArchive(name: "vzdump-lxc-7-2026_01_01-00_00_00.tar.gz")?.vmid == 7)
        #expect(BackupArchive(name: "notabackup.iso") == nil && BackupArchive(name: "vzdump-qemu-x-2026_01_01-00_00_00.vma") == nil)
        #expect(!BackupArchive.isArchive("vzdump-qemu-100-2026_12_04-09_30_00.vma.zst.notes"))
        #expect(DirStorage.backupFormat("vzdump-qemu-100-2026_12_04-09_30_00.vma.zst") == "vma.zst")
    }

    @Test func keepLastKeepsTheNewest() {
        let marks = PruneSelection.mark(Self.entries(), keep: ["keep-last": 3])
        let kept = marks.filter { $0.value == .keep }.keys.sorted()
        #expect(kept == ["b77", "b78", "b79"])
        #expect(marks.count == 80)
    }

    @Test func dailyRulesKeepOnePerDayAndEarlierRulesCoverTheirDays() {
        // keep-last 2 keeps b79 and b78 (of the last day, which is then covered); keep-daily 3 adds
        // the newest of each of the three days before it (a covered day uses none of its count)
        let marks = PruneSelection.mark(Self.entries(), keep: ["keep-last": 2, "keep-daily": 3])
        let kept = Set(marks.filter { $0.value == .keep }.keys)
        #expect(kept == ["b79", "b78", "b75", "b71", "b67"], "\(kept.sorted())")
    }

    @Test func protectedBackupsStayOutsideTheRulesAndKeepAllKeepsEverything() {
        var entries = Self.entries(days: 2)
        entries[entries.count - 1].protected = true
        let marks = PruneSelection.mark(entries, keep: ["keep-last": 1])
        #expect(marks["b7"] == .protected && marks["b6"] == .keep && marks["b5"] == .remove)
        #expect(PruneSelection.mark(entries, keep: ["keep-all": 1]).values.filter { $0 == .remove }.isEmpty)
        #expect(PruneSelection.mark(entries, keep: [:]).values.filter { $0 == .remove }.isEmpty)
        #expect(PruneSelection.parse("keep-last=3,keep-weekly=2") == ["keep-last": 3, "keep-weekly": 2])
    }
}
