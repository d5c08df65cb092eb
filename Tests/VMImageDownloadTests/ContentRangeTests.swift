import Testing
@testable import VMImageDownload

@Suite("Content-Range")
struct ContentRangeTests {
    @Test func parsesContentRange() {
        #expect(ContentRange("bytes 100-999/1000") == ContentRange(start: 100, end: 999, total: 1000))
        #expect(ContentRange("bytes 0-0/*")?.total == nil)
        for bad in [nil, "", "bytes 5-4/10", "bytes 0-9/9", "items 0-1/2", "bytes 0-/*", "bytes a-b/c", "bytes 0-1"] {
            #expect(ContentRange(bad) == nil, "\(bad ?? "nil")")
        }
    }
}
