//! `ferry sync` against registries that misbehave (a scripted server on
//! loopback): tag lists that loop or never end are refused, with the
//! reason, before anything is copied.

use ferry_tests::registry::{Reply, ScriptedServer, failed, ferry, sync_args};

fn sync_from(server: &ScriptedServer) -> String {
    failed(&ferry(&sync_args(
        "docker",
        "docker",
        &[],
        &format!("{}/r", server.host()),
        "127.0.0.1:9/mirror",
    )))
}

#[test]
fn a_tag_list_that_loops_is_refused() {
    let server = ScriptedServer::start(|request| match request.target.as_str() {
        "/v2/" => Reply::ok(b"{}".to_vec()),
        "/v2/r/tags/list" => Reply::ok(br#"{"name":"r","tags":["a"]}"#.to_vec())
            .header("Link", r#"</v2/r/tags/list?last=a>; rel="next""#),
        // The second page sends the client back to the first.
        _ => Reply::ok(br#"{"name":"r","tags":["b"]}"#.to_vec())
            .header("Link", r#"</v2/r/tags/list>; rel="next""#),
    });
    let error = sync_from(&server);
    assert!(error.contains("the tag list loops"), "{error}");
    // Two pages read, and no third.
    let pages = server
        .requests()
        .iter()
        .filter(|s| s.path() == "/v2/r/tags/list")
        .count();
    assert_eq!(pages, 2);
}

#[test]
fn a_tag_list_that_never_ends_is_refused_at_the_limit() {
    // Every page holds 50,000 new tags and names a next one.
    let server = ScriptedServer::start(|request| {
        if request.target == "/v2/" {
            return Reply::ok(b"{}".to_vec());
        }
        let page: u64 = request
            .target
            .split("last=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let tags: Vec<String> = (0..50_000).map(|i| format!("\"p{page}t{i}\"")).collect();
        Reply::ok(format!(r#"{{"name":"r","tags":[{}]}}"#, tags.join(",")).into_bytes()).header(
            "Link",
            &format!(r#"</v2/r/tags/list?last={}>; rel="next""#, page + 1),
        )
    });
    let error = sync_from(&server);
    assert!(
        error.contains(&format!(
            "more than {} tags",
            ferry_core::registry::tags::MAX_TAGS
        )),
        "{error}"
    );
}
