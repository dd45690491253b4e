extension GuestConfig {
    /// The config text a backup archive holds (vzdump's rule for VMs and containers alike): the
    /// current section only, without `lock`, `parent` and unused volumes.
    public static func archivedText(_ section: Section) -> String {
        var current = section
        for key in current.values.keys where key == "lock" || key == "parent" || key.hasPrefix("unused") { current.values[key] = nil }
        var config = GuestConfig()
        config.current = current
        return config.serialized()
    }
}
