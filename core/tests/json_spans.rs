//! `json::object_member_spans` reads a top-level object member by member;
//! it must accept exactly the documents `json::parse` accepts.

mod support;

use ferry_core::json::{self, MAX_DEPTH, SyntaxErrorKind, Value};
use support::fixture;

/// Found by the `json` fuzz target's invariant on a hand-made boundary
/// input: `{"a": [[…]]}` with 1,001 arrays inside the object. `parse`
/// refused it as nested too deep, but `object_member_spans` did not count
/// the object itself and accepted it.
#[test]
fn spans_refuse_what_parse_refuses_as_too_deep() {
    let doc = fixture("object-with-1001-nested-arrays.json");
    assert_eq!(
        json::parse(&doc).unwrap_err().kind,
        SyntaxErrorKind::TooDeep
    );
    assert_eq!(
        json::object_member_spans(&doc).unwrap_err().kind,
        SyntaxErrorKind::TooDeep
    );
}

#[test]
fn spans_accept_an_object_nested_as_deep_as_parse_allows() {
    let doc = fixture("object-with-1000-nested-arrays.json");
    let Value::Object(object) = json::parse(&doc).unwrap() else {
        panic!("the fixture is an object")
    };
    let spans = json::object_member_spans(&doc).unwrap().unwrap();
    assert_eq!(spans.len(), 1);
    let (key, range) = &spans[0];
    assert_eq!(key, "a");
    assert_eq!(
        json::parse(&doc[range.clone()]).unwrap(),
        object.members[0].value
    );
    assert_eq!(MAX_DEPTH, 1000, "the fixtures are built for this limit");
}
