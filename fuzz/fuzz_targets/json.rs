//! ferry-core's Go-compatible JSON reader and writer, on any bytes.
//!
//! Invariants: whatever parses re-parses to the same tree after compact
//! serialization (with and without HTML escaping) and after `compact_raw`;
//! `object_member_spans` agrees with the full parse about members, keys and
//! values, and with its verdict on whether the input is JSON at all.
#![no_main]

use ferry_core::json::{self, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = json::parse(data);
    let spans = json::object_member_spans(data);
    let Ok(value) = parsed else {
        assert!(
            spans.is_err(),
            "object_member_spans accepted what parse refused"
        );
        return;
    };
    for escape_html in [false, true] {
        let text = value.to_compact(escape_html);
        assert_eq!(
            json::parse(text.as_bytes()).as_ref(),
            Ok(&value),
            "compact form (escape_html {escape_html}) does not re-parse to the same tree: {text}"
        );
    }
    let mut raw = Vec::new();
    json::compact_raw(data, &mut raw);
    assert_eq!(
        json::parse(&raw).as_ref(),
        Ok(&value),
        "compact_raw changed the document"
    );
    let _ = value.to_serde();
    match (&value, spans) {
        (Value::Object(object), Ok(Some(spans))) => {
            assert_eq!(object.members.len(), spans.len());
            for (member, (key, range)) in object.members.iter().zip(spans) {
                assert_eq!(&member.key, &key);
                assert_eq!(json::parse(&data[range]).as_ref(), Ok(&member.value));
            }
        }
        (Value::Null, Ok(None)) => {}
        (Value::Object(_) | Value::Null, other) => {
            panic!("object_member_spans disagrees with parse: {other:?}")
        }
        (_, other) => assert!(
            other.is_err(),
            "object_member_spans accepted a non-object: {other:?}"
        ),
    }
});
