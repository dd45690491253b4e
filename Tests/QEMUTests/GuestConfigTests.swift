import Foundation
import Guests
import Schema
import Storage
import Testing

@testable import QEMU

@Suite struct GuestConfigTests {
    static let sample = """
        #Web server%3A front
        #second line
        boot: order=scsi0
        cores: 2
        memory: 2048
        name: web
        net0: virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1
        parent: before-upgrade
        scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
        unknown-future-option: kept as is

        [PENDING]
        delete: net1,!serial0
        memory: 4096

        [special:cloudinit]
        ipconfig0: ip=dhcp

        [before-upgrade]
        #taken before the upgrade
        cores: 2
        memory: 2048
        scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
        snaptime: 1700000000
        vmstate: 1

        """

    @Test func parsesEverySection() throws {
        let config = try GuestConfig.parse(Self.sample)
        #expect(config.current.description == "Web server: front\nsecond line")
        #expect(config.current["memory"] == "2048")
        #expect(config.current["unknown-future-option"] == "kept as is")
        #expect(config.pending["memory"] == "4096")
        #expect(config.pendingDelete.map(\.key) == ["net1", "serial0"])
        #expect(config.pendingDelete.map(\.force) == [false, true])
        #expect(config.special["cloudinit"]?["ipconfig0"] == "ip=dhcp")
        #expect(config.snapshots["before-upgrade"]?.description == "taken before the upgrade")
        #expect(config.snapshots["before-upgrade"]?["snaptime"] == "1700000000")
    }

    @Test func writesBackWithoutLoss() throws {
        let config = try GuestConfig.parse(Self.sample)
        let text = config.serialized()
        #expect(try GuestConfig.parse(text) == config)
        // a file in PVE's own order reads and writes back byte for byte
        #expect(text == Self.sample.replacingOccurrences(of: "%3A", with: "%3A"))
        #expect(GuestConfig.digest(of: Array(text.utf8)).count == 40)
    }

    @Test func descriptionsCannotBecomeKeys() throws {
        var config = GuestConfig()
        config.current.description = "memory: 99999\nnäive"
        config.current["memory"] = "512"
        let back = try GuestConfig.parse(config.serialized())
        #expect(back.current["memory"] == "512")
        #expect(back.current.description == "memory: 99999\nnäive")
    }

    @Test(arguments: ["just text", "[unterminated", "Memory: 5", "[bad name!]"])
    func refusesMalformedLines(_ line: String) {
        #expect(throws: GuestConfig.ParseError.self) { try GuestConfig.parse("memory: 512\n" + line + "\n") }
    }

    @Test func typedViewReadsPVEsShapes() throws {
        let config = try GuestConfig.parse(Self.sample)
        let vm = VMConfig(config.current)
        #expect(vm.memoryMiB == 2048)
        #expect(vm.maxVCPUs == 2)
        #expect(vm.nics.first?.mac == "BC:24:11:AA:BB:CC")
        #expect(vm.nics.first?.model == "virtio")
        #expect(vm.drives.map(\.key) == ["scsi0"])
        #expect(vm.drives.first?.sizeText == "32G")
        #expect(vm.bootOrder == ["scsi0"])
        #expect(VMConfig(GuestConfig.Section(values: ["memory": "current=768"])).memoryMiB == 768)
    }

    @Test func optionSchemaComesFromPVEsFacts() throws {
        #expect(VMOptionSchema.option("scsi30") != nil)
        #expect(VMOptionSchema.option("scsi31") == nil)
        #expect(VMOptionSchema.option("net31") != nil)
        #expect(VMOptionSchema.option("vmid") == nil)
        #expect(VMOptionSchema.option("no-such-option") == nil)
        let net = try PropertyString.parse("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=5", format: VMOptionSchema.format("net0")!)
        #expect(net["model"]?.plainText == "virtio")
        #expect(net["macaddr"]?.plainText == "BC:24:11:AA:BB:CC")
        #expect(throws: PropertyString.Error.self) { try PropertyString.parse("virtio,tag=9999", format: VMOptionSchema.format("net0")!) }
        #expect(VMManager.printNIC(net, format: VMOptionSchema.format("net0")!) == "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=5")
    }

    @Test func diskSizes() {
        #expect(DiskSize.bytes("32G") == 32 << 30)
        #expect(DiskSize.bytes("1.5T") == Int64(1.5 * Double(1 << 40)))
        #expect(DiskSize.text(8 << 30) == "8G")
        #expect(DiskSize.text(1536 << 20) == "1536M")
        #expect(VMManager.newDiskRequest("local:8")?.gib == 8)
        #expect(VMManager.newDiskRequest("local:100/vm-100-disk-0.qcow2") == nil)
    }

    @Test func macsAreUnicastAndLocal() {
        for _ in 0..<50 {
            let mac = VMManager.randomMAC(prefix: nil)
            let first = UInt8(mac.prefix(2), radix: 16)!
            #expect(first & 1 == 0)
            #expect(first & 2 == 2)
        }
        #expect(VMManager.randomMAC(prefix: "BC:24:11").hasPrefix("BC:24:11:"))
    }
}
