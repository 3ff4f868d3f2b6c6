// Generated with the bindings: checks them against this bundle's own golden files. The tokenizer
// test runs anywhere Swift does; the self-tests need Core ML or Core AI (macOS, or iOS in a simulator).
import Foundation
import XCTest
@testable import MobileSDK

final class GoldenTests: XCTestCase {
    /// The bundle directory: this file is <bundle>/ios/Tests/MobileSDKTests/GoldenTests.swift.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The tokenizer gives the ids and offsets Python gave for every golden text row.
    func testTokenizerReproducesTheGoldenTextRows() throws {
        for info in BUNDLE_OBJECT.models.values {
            guard let config = info.tokenizer else { continue }
            let tokenizer = try WordPieceTokenizer(config, vocabTxt: try Data(contentsOf: root.appendingPathComponent(info.vocab)))
            for golden in info.golden {
                let files = try Npy.npzFiles(try Data(contentsOf: root.appendingPathComponent(golden.path)))
                guard let rowsFile = files["text.rows"], let rows = try Npy.strings(rowsFile),
                      let ids = try Npy.read(files["text.ids"]!), let offsets = try Npy.read(files["text.offsets"]!) else { continue }
                let width = ids.shape[1]
                for (r, text) in rows.enumerated() {
                    let want = (0..<width).map { Int(ids.int(r * width + $0)) }.filter { $0 >= 0 }
                    let enc = tokenizer.encode(text)
                    XCTAssertEqual(enc.ids, want, "\(info.name) \(golden.name) row \(r)")
                    for (k, (s, e)) in enc.offsets.enumerated() {
                        XCTAssertEqual([s, e], [Int(offsets.int((r * width + k) * 2)), Int(offsets.int((r * width + k) * 2 + 1))])
                    }
                }
            }
        }
    }

    #if canImport(CoreML)
    /// Every Core ML artifact passes its golden self-test in Core ML itself.
    func testEveryCoreMLArtifactPassesItsSelfTest() throws {
        let engine = CoreMLEngine(root: root)
        for info in BUNDLE_OBJECT.models.values {
            for artifact in info.artifacts where artifact.format == "coreml" {
                let report = try SelfTest.run(info, artifact, engine, bundle: BUNDLE_OBJECT.name,
                                              manifestSha256: BUNDLE_OBJECT.manifestSha256)
                XCTAssertTrue(report.passed, report.render())
            }
        }
    }
    #endif

    #if canImport(CoreAI)
    /// Every Core AI artifact passes its golden self-test in Core AI itself.
    func testEveryCoreAIArtifactPassesItsSelfTest() throws {
        guard #available(iOS 27, macOS 27, *) else { throw XCTSkip("Core AI needs iOS 27 or macOS 27") }
        let engine = CoreAIEngine(root: root)
        for info in BUNDLE_OBJECT.models.values {
            for artifact in info.artifacts where artifact.format == "coreai" {
                let report = try SelfTest.run(info, artifact, engine, bundle: BUNDLE_OBJECT.name,
                                              manifestSha256: BUNDLE_OBJECT.manifestSha256)
                XCTAssertTrue(report.passed, report.render())
            }
        }
    }
    #endif
}
