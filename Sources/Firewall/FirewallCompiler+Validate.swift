extension FirewallCompiler {
    /// Compiles `input` as if every part were switched on (the cluster, the node, each guest with
    /// at least one firewalled NIC), and resolves every alias and IP set, so a change that would break
    /// the ruleset is refused when it is made, not when someone switches the firewall on later.
    public static func validate(_ input: FirewallInput) throws {
        var all = input
        // disabled rules are checked too: enabling one later must not break the ruleset
        func enableAll(_ file: inout FirewallFile) {
            for i in file.rules.indices { file.rules[i].enable = true }
            for g in file.groups.indices {
                for i in file.groups[g].rules.indices { file.groups[g].rules[i].enable = true }
            }
        }
        enableAll(&all.cluster)
        enableAll(&all.host)
        for index in all.guests.indices { enableAll(&all.guests[index].file) }
        all.cluster.setOption("enable", "1")
        all.host.setOption("enable", "1")
        for index in all.guests.indices {
            all.guests[index].file.setOption("enable", "1")
            if !all.guests[index].nics.contains(where: \.firewall) {
                all.guests[index].nics.append(.init(name: "net0", device: "check\(all.guests[index].vmid)", mac: nil, firewall: true))
            }
        }
        for guest in all.guests {
            let scope = FirewallAddresses(cluster: all.cluster, guest: guest.file, vmid: guest.vmid)
            for alias in guest.file.aliases { _ = try scope.alias("guest/\(alias.name)", field: "cidr") }
        }
        let scope = FirewallAddresses(cluster: all.cluster, guest: nil, vmid: nil)
        for alias in all.cluster.aliases { _ = try scope.alias("dc/\(alias.name)", field: "cidr") }
        var compiler = FirewallCompiler(all)
        _ = try compiler.build()
        // groups no rule uses yet must compile too
        for group in all.cluster.groups {
            for direction in [Context.hostIn, .hostOut, .forward] {
                _ = try compiler.compile(
                    {
                        var rule = FirewallRule(type: .group, action: group.name); rule.iface = nil; return rule
                    }(), context: direction, scope: scope,
                    where_: "cluster.fw")
            }
        }
    }
}
