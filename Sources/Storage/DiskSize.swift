/// Sizes as PVE writes them (`32G`, `512M`, `1.5T`, bytes without a unit).
public enum DiskSize {
    public static func bytes(_ text: String) -> Int64? {
        guard let last = text.last else { return nil }
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        if let unit = units[last] {
            guard let value = Double(text.dropLast()), value >= 0 else { return nil }
            return Int64(value * unit)
        }
        return Int64(text)
    }

    /// The shortest exact form: `8G`, `1536M`, or bytes.
    public static func text(_ bytes: Int64) -> String {
        for (unit, factor) in [("T", Int64(1) << 40), ("G", Int64(1) << 30), ("M", Int64(1) << 20), ("K", Int64(1024))]
        where bytes % factor == 0 && bytes >= factor {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)"
    }
}
