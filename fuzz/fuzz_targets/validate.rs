//! Validation of any bytes.
//!
//! Invariants: a document reported valid also parses as the type it is
//! detected as; the detected type is containers/image's guess; every
//! diagnostic points at the whole document or at a JSON pointer; the report
//! serializes.
#![no_main]

use ferry_core::validate::{self, Severity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = validate::validate(data);
    assert_eq!(
        report.detected_media_type,
        ferry_core::manifest::guess_media_type(data)
    );
    if report.is_valid() {
        assert!(
            validate::parses(data),
            "reported valid but does not parse: {report:?}"
        );
    } else {
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
        );
    }
    for d in &report.diagnostics {
        assert!(
            d.pointer.is_empty() || d.pointer.starts_with('/'),
            "not a JSON pointer: {:?}",
            d.pointer
        );
        assert!(!d.message.is_empty());
    }
    serde_json::to_string(&report).expect("a report serializes");
});
