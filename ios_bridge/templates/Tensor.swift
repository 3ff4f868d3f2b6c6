// A tensor as the bindings pass it around: a shape, a dtype and row-major values, plus .npy/.npz
// reading and writing (the bundle's golden cases are .npz, stored zips of .npy files; written by
// hand because no Swift library for numpy's format ships with iOS).
import Foundation

/// A bad input or a bundle the bindings cannot use: the message names the input and the fix.
public struct MobileSDKError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum DType: String {
    case float32, int32, int64

    var npy: String {
        switch self {
        case .float32: return "<f4"
        case .int32: return "<i4"
        case .int64: return "<i8"
        }
    }

    var bytes: Int { self == .int64 ? 8 : 4 }
}

/// Row-major values: `floats` for float32, `ints` for the integer dtypes.
public struct Tensor {
    public let dtype: DType
    public let shape: [Int]
    public let floats: [Float]
    public let ints: [Int64]

    public var count: Int { shape.reduce(1, *) }

    public static func float32(_ shape: [Int], _ values: [Float]) throws -> Tensor {
        try check(shape, values.count)
        return Tensor(dtype: .float32, shape: shape, floats: values, ints: [])
    }

    public static func integer(_ dtype: DType, _ shape: [Int], _ values: [Int64]) throws -> Tensor {
        precondition(dtype != .float32, "ints() takes an integer dtype")
        try check(shape, values.count)
        return Tensor(dtype: dtype, shape: shape, floats: [], ints: values)
    }

    private static func check(_ shape: [Int], _ n: Int) throws {
        let want = shape.reduce(1, *)
        if want != n { throw MobileSDKError("a tensor of shape \(shape) needs \(want) values, not \(n)") }
    }

    public func float(_ i: Int) -> Float { dtype == .float32 ? floats[i] : Float(ints[i]) }
    public func int(_ i: Int) -> Int64 { dtype == .float32 ? Int64(floats[i]) : ints[i] }

    /// The same values in another dtype (as numpy's astype).
    public func cast(_ to: DType) -> Tensor {
        if to == dtype { return self }
        if to == .float32 { return Tensor(dtype: .float32, shape: shape, floats: (0..<count).map { float($0) }, ints: []) }
        return Tensor(dtype: to, shape: shape, floats: [], ints: (0..<count).map { int($0) })
    }

    /// Axes reordered: axis i of the result is axis perm[i] of this one (numpy's transpose).
    public func permute(_ perm: [Int]) -> Tensor {
        let to = perm.map { shape[$0] }
        var source = [Int](repeating: 0, count: count)
        var idx = [Int](repeating: 0, count: to.count)
        for k in 0..<count {
            var rest = k
            for i in stride(from: to.count - 1, through: 0, by: -1) { idx[i] = rest % to[i]; rest /= to[i] }
            var flat = 0
            var src = [Int](repeating: 0, count: perm.count)
            for i in perm.indices { src[perm[i]] = idx[i] }
            for i in shape.indices { flat = flat * shape[i] + src[i] }
            source[k] = flat
        }
        return dtype == .float32 ? Tensor(dtype: dtype, shape: to, floats: source.map { floats[$0] }, ints: [])
            : Tensor(dtype: dtype, shape: to, floats: [], ints: source.map { ints[$0] })
    }
}

/// numpy's .npy (little-endian; C or Fortran order) and .npz (a stored zip of .npy files).
public enum Npy {
    public static func write(_ t: Tensor) -> Data {
        let dims = t.shape.map(String.init).joined(separator: ", ") + (t.shape.count == 1 ? "," : "")
        var header = "{'descr': '\(t.dtype.npy)', 'fortran_order': False, 'shape': (\(dims)), }"
        header += String(repeating: " ", count: 63 - (10 + header.utf8.count) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        appendLE(&out, UInt16(header.utf8.count))
        out.append(contentsOf: Array(header.utf8))
        for i in 0..<t.count {
            switch t.dtype {
            case .float32: appendLE(&out, t.floats[i].bitPattern)
            case .int32: appendLE(&out, UInt32(bitPattern: Int32(t.ints[i])))
            case .int64: appendLE(&out, UInt64(bitPattern: t.ints[i]))
            }
        }
        return out
    }

    /// A .npy of a dtype the bindings handle; nil for others (the text rows' unicode arrays: see `strings`).
    public static func read(_ data: Data) throws -> Tensor? {
        guard let h = try header(data) else { return nil }
        let (descr, fortran, shape, body) = h
        guard let dtype = [DType.float32, .int32, .int64].first(where: { $0.npy == descr }) else { return nil }
        let n = shape.reduce(1, *)
        let stored = fortran ? Array(shape.reversed()) : shape
        let t: Tensor
        switch dtype {
        case .float32: t = try Tensor.float32(stored, (0..<n).map { Float(bitPattern: readLE(body, $0 * 4) as UInt32) })
        case .int32: t = try Tensor.integer(.int32, stored, (0..<n).map { Int64(Int32(bitPattern: readLE(body, $0 * 4) as UInt32)) })
        case .int64: t = try Tensor.integer(.int64, stored, (0..<n).map { Int64(bitPattern: readLE(body, $0 * 8) as UInt64) })
        }
        return fortran ? t.permute(Array((0..<shape.count).reversed())) : t
    }

    /// A 1-D .npy of fixed-width unicode strings (`<U<n>`, UTF-32): the golden cases' text rows.
    public static func strings(_ data: Data) throws -> [String]? {
        guard let h = try header(data), h.0.hasPrefix("<U"), let width = Int(h.0.dropFirst(2)) else { return nil }
        let (shape, body) = (h.2, h.3)
        return (0..<shape.reduce(1, *)).map { row in
            var s = String.UnicodeScalarView()
            for k in 0..<width {
                let v: UInt32 = readLE(body, (row * width + k) * 4)
                if v == 0 { break }
                if let u = Unicode.Scalar(v) { s.append(u) }
            }
            return String(s)
        }
    }

    private static func header(_ data: Data) throws -> (String, Bool, [Int], Data)? {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, String(bytes: bytes[1..<6], encoding: .ascii) == "NUMPY" else {
            throw MobileSDKError("not a .npy file. Fix: pass arrays saved by numpy.save or numpy.savez")
        }
        let major = bytes[6]
        let length = major == 1 ? Int(readLE(data, 8) as UInt16) : Int(readLE(data, 8) as UInt32)
        let start = major == 1 ? 10 : 12
        let text = String(decoding: data.subdata(in: data.startIndex + start..<data.startIndex + start + length), as: UTF8.self)
        guard let descr = match(text, "'descr':\\s*'([^']+)'"), let dims = match(text, "'shape':\\s*\\(([^)]*)\\)") else { return nil }
        let shape = dims.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        return (descr, text.contains("'fortran_order': True"), shape, data.subdata(in: data.startIndex + start + length..<data.endIndex))
    }

    private static func match(_ text: String, _ pattern: String) -> String? {
        guard let re = try? NSRegularExpression(pattern: pattern),
              let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let r = Range(m.range(at: 1), in: text) else { return nil }
        return String(text[r])
    }

    public static func writeNpz(_ tensors: [(String, Tensor)]) -> Data { Zip.store(tensors.map { ("\($0.0).npy", write($0.1)) }) }

    /// The arrays of a .npz by name (without `.npy`), skipping dtypes the bindings do not handle.
    public static func readNpz(_ data: Data) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, bytes) in try Zip.entries(data) {
            if let t = try read(bytes) { out[String(name.dropLast(name.hasSuffix(".npy") ? 4 : 0))] = t }
        }
        return out
    }

    /// The raw .npy files of a .npz by name (without `.npy`).
    public static func npzFiles(_ data: Data) throws -> [String: Data] {
        Dictionary(uniqueKeysWithValues: try Zip.entries(data).map { (String($0.0.dropLast($0.0.hasSuffix(".npy") ? 4 : 0)), $0.1) })
    }
}

func appendLE<T: FixedWidthInteger>(_ data: inout Data, _ value: T) {
    withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
}

func readLE<T: FixedWidthInteger>(_ data: Data, _ offset: Int) -> T {
    var v: T = 0
    for k in 0..<MemoryLayout<T>.size { v |= T(data[data.startIndex + offset + k]) << (8 * k) }
    return v
}

/// Stored (uncompressed) zips, as numpy's savez writes them, zip64 sizes included.
enum Zip {
    static func entries(_ data: Data) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        var at = 0
        while at + 30 <= data.count, readLE(data, at) as UInt32 == 0x04034B50 {
            let method: UInt16 = readLE(data, at + 8)
            var size = Int(readLE(data, at + 18) as UInt32)
            let nameLength = Int(readLE(data, at + 26) as UInt16)
            let extraLength = Int(readLE(data, at + 28) as UInt16)
            let name = String(decoding: data.subdata(in: data.startIndex + at + 30..<data.startIndex + at + 30 + nameLength), as: UTF8.self)
            var e = at + 30 + nameLength
            while e + 4 <= at + 30 + nameLength + extraLength {  // zip64: the real sizes are in extra field 0x0001
                let id: UInt16 = readLE(data, e)
                let len = Int(readLE(data, e + 2) as UInt16)
                if id == 1 && size == 0xFFFF_FFFF { size = Int(readLE(data, e + 12) as UInt64) }
                e += 4 + len
            }
            if method != 0 { throw MobileSDKError("`\(name)` is compressed. Fix: save it with numpy.savez, not savez_compressed") }
            let start = at + 30 + nameLength + extraLength
            out.append((name, data.subdata(in: data.startIndex + start..<data.startIndex + start + size)))
            at = start + size
        }
        return out
    }

    static func store(_ files: [(String, Data)]) -> Data {
        var out = Data()
        var central = Data()
        for (name, body) in files {
            let offset = out.count
            let crc = crc32(body)
            for (target, signature) in [(0, UInt32(0x04034B50)), (1, UInt32(0x02014B50))] {
                var h = Data()
                appendLE(&h, signature)
                if target == 1 { appendLE(&h, UInt16(20)) }
                for v: UInt16 in [20, 0, 0, 0, 0] { appendLE(&h, v) }
                appendLE(&h, crc)
                appendLE(&h, UInt32(body.count))
                appendLE(&h, UInt32(body.count))
                appendLE(&h, UInt16(name.utf8.count))
                appendLE(&h, UInt16(0))
                if target == 1 {
                    for v: UInt16 in [0, 0, 0] { appendLE(&h, v) }
                    appendLE(&h, UInt32(0))
                    appendLE(&h, UInt32(offset))
                }
                h.append(contentsOf: Array(name.utf8))
                if target == 0 { out.append(h); out.append(body) } else { central.append(h) }
            }
        }
        let directory = out.count
        out.append(central)
        appendLE(&out, UInt32(0x06054B50))
        for v: UInt16 in [0, 0, UInt16(files.count), UInt16(files.count)] { appendLE(&out, v) }
        appendLE(&out, UInt32(central.count))
        appendLE(&out, UInt32(directory))
        appendLE(&out, UInt16(0))
        return out
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
