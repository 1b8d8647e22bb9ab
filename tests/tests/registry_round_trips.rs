//! Which requests ferry sends side by side against a registry: the
//! independent ones, so that across a network a copy costs few round
//! trips (benches/RESULTS.md, "wan" scenarios). The fault proxy holds
//! the answers back, so that requests sent one after another can never
//! overlap, and records which were in flight together.

use std::time::Duration;

use ferry_tests::registry::{
    Exchange, FaultProxy, Faults, Match, Registry, Rule, Setup, SkopeoSide, ferry, succeeded,
};

const HOLD: Duration = Duration::from_millis(200);

/// Whether some request matching `wanted` was in flight beside another
/// one matching it.
fn side_by_side(exchanges: &[Exchange], wanted: impl Fn(&Exchange) -> bool) -> bool {
    exchanges
        .iter()
        .any(|e| wanted(e) && e.alongside.iter().any(|&i| wanted(&exchanges[i])))
}

fn push_demo(registry: &Registry, repository: &str) {
    push_demo_to(&registry.docker_ref(repository));
}

fn push_demo_to(destination: &str) {
    succeeded(&ferry(&[
        "copy",
        "--all",
        "--progress",
        "none",
        "--dest-tls-verify=false",
        "demo:",
        destination,
    ]));
}

/// The repository answers that it lacks the list (by tag and by
/// digest), as one holding only the blobs would: each blob is asked
/// about, as the tests of blob checks need.
fn lacking_the_list() -> Rule {
    Rule::status(Match::contains("HEAD", "/manifests/"), 404).always()
}

/// `demo:` pushed again to `repository` through `proxy`, one blob
/// transfer at a time (`--jobs 1`: at most CHECKS_PER_JOB, 4, checks in
/// flight).
fn push_demo_with_one_job(proxy: &FaultProxy, repository: &str) {
    succeeded(&ferry(&[
        "copy",
        "--all",
        "--jobs",
        "1",
        "--progress",
        "none",
        "--dest-tls-verify=false",
        "demo:",
        &format!("docker://{}/{repository}", proxy.host()),
    ]));
}

#[test]
fn a_warm_push_asks_about_its_blobs_side_by_side_even_with_one_job() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/warm:v1");
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::delay(Match::contains("HEAD", "/blobs/sha256:"), HOLD))
            .with(lacking_the_list()),
    );
    push_demo_with_one_job(&proxy, "round-trips/warm:v1");
    let exchanges = proxy.exchanges();
    assert!(
        side_by_side(&exchanges, |e| e.method == "HEAD"),
        "the existence checks went one after another: {exchanges:#?}"
    );
    // Nothing moved: every blob was there.
    assert!(
        !exchanges.iter().any(|e| e.method == "POST"),
        "{exchanges:#?}"
    );
}

/// `demo:` pushed to `first`, then again to `second` with one job,
/// through a proxy that holds every blob check back a second: the answer
/// about the list comes first, and the checks not yet started never go
/// out. What the second push sent.
fn push_again_with_slow_blob_checks(
    registry: &Registry,
    first: &str,
    second: &str,
) -> Vec<Exchange> {
    push_demo(registry, first);
    let hold = Duration::from_secs(1);
    let proxy = registry
        .proxy(Faults::none().with(Rule::delay(Match::contains("HEAD", "/blobs/sha256:"), hold)));
    push_demo_with_one_job(&proxy, second);
    proxy.exchanges()
}

/// The `method` requests among `exchanges` whose target contains `part`.
fn matching<'a>(
    exchanges: &'a [Exchange],
    method: &'a str,
    part: &'a str,
) -> impl Iterator<Item = &'a Exchange> {
    exchanges
        .iter()
        .filter(move |e| e.method == method && e.target.contains(part))
}

/// How many requests `matching` finds.
fn count(exchanges: &[Exchange], method: &str, part: &str) -> usize {
    matching(exchanges, method, part).count()
}

/// How many of those got an answer before the copy ended.
fn answered(exchanges: &[Exchange], method: &str, part: &str) -> usize {
    matching(exchanges, method, part)
        .filter(|e| e.status.is_some())
        .count()
}

#[test]
fn a_push_of_a_list_the_repository_holds_asks_for_it_once_and_writes_only_the_new_tag() {
    let registry = Registry::start(Setup::plain());
    let exchanges =
        push_again_with_slow_blob_checks(&registry, "round-trips/held:v1", "round-trips/held:v2");
    assert_eq!(
        count(&exchanges, "HEAD", "/manifests/sha256:"),
        1,
        "{exchanges:#?}"
    );
    // Only those in flight beside it: --jobs 1 has 4 check slots, and
    // demo:'s four platforms have a config and layers each.
    assert!(count(&exchanges, "HEAD", "/blobs/") <= 4, "{exchanges:#?}");
    assert_eq!(count(&exchanges, "POST", ""), 0, "{exchanges:#?}");
    let written: Vec<&str> = exchanges
        .iter()
        .filter(|e| e.method == "PUT")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(written, ["/v2/round-trips/held/manifests/v2"]);
}

#[test]
fn a_list_held_by_a_registry_that_names_no_digest_on_head_is_still_held() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/quiet:v1");
    let proxy = registry.proxy(Faults::none().with(Rule::drop_header(
        Match::contains("HEAD", "/manifests/"),
        "docker-content-digest",
    )));
    push_demo_with_one_job(&proxy, "round-trips/quiet:v2");
    let exchanges = proxy.exchanges();
    // Asked by digest, the success is the answer: only the new tag is
    // written, not the list's images again.
    let written: Vec<&str> = exchanges
        .iter()
        .filter(|e| e.method == "PUT")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(
        written,
        ["/v2/round-trips/quiet/manifests/v2"],
        "{exchanges:#?}"
    );
}

#[test]
fn a_push_to_a_tag_that_names_the_list_already_asks_and_writes_nothing() {
    let registry = Registry::start(Setup::plain());
    let exchanges =
        push_again_with_slow_blob_checks(&registry, "round-trips/again:v1", "round-trips/again:v1");
    // The tag and the list's digest, side by side.
    assert_eq!(
        count(&exchanges, "HEAD", "/manifests/v1"),
        1,
        "{exchanges:#?}"
    );
    assert_eq!(
        count(&exchanges, "HEAD", "/manifests/sha256:"),
        1,
        "{exchanges:#?}"
    );
    // Blob checks only while the answer was on its way (--jobs 1: 4 check
    // slots); nothing uploaded, nothing written.
    assert!(count(&exchanges, "HEAD", "/blobs/") <= 4, "{exchanges:#?}");
    assert_eq!(count(&exchanges, "POST", ""), 0, "{exchanges:#?}");
    assert_eq!(count(&exchanges, "PUT", ""), 0, "{exchanges:#?}");
    // Those checks were abandoned once the answer came, not waited for.
    assert_eq!(answered(&exchanges, "HEAD", "/blobs/"), 0, "{exchanges:#?}");
}

#[test]
fn a_tag_that_names_the_list_answers_without_waiting_for_the_digest_question() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/named:v1");
    // The question by digest is slow; the tag's is not.
    let proxy = registry.proxy(Faults::none().with(Rule::delay(
        Match::contains("HEAD", "/manifests/sha256:"),
        Duration::from_secs(2),
    )));
    push_demo_with_one_job(&proxy, "round-trips/named:v1");
    let exchanges = proxy.exchanges();
    assert_eq!(count(&exchanges, "PUT", ""), 0, "{exchanges:#?}");
    assert_eq!(
        count(&exchanges, "HEAD", "/manifests/v1"),
        1,
        "{exchanges:#?}"
    );
    // The tag named the list: the copy ended without the other answer.
    assert_eq!(
        answered(&exchanges, "HEAD", "/manifests/sha256:"),
        0,
        "{exchanges:#?}"
    );
}

/// `copy --all` from `from` to `to`, both in the registry behind `proxy`.
fn copy_within(proxy: &FaultProxy, from: &str, to: &str) {
    succeeded(&ferry(&[
        "copy",
        "--all",
        "--progress",
        "none",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/{from}", proxy.host()),
        &format!("docker://{}/{to}", proxy.host()),
    ]));
}

#[test]
fn a_copy_to_a_tag_that_names_the_list_already_reads_the_list_asks_the_tag_and_ends() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/from:v1");
    push_demo(&registry, "round-trips/to:v1");
    let proxy = registry.proxy(Faults::none());
    copy_within(&proxy, "round-trips/from:v1", "round-trips/to:v1");
    let exchanges = proxy.exchanges();
    let mut asked: Vec<(&str, &str)> = exchanges
        .iter()
        .filter(|e| !e.method.is_empty() && e.target != "/v2/")
        .map(|e| (e.method.as_str(), e.target.as_str()))
        .collect();
    asked.sort();
    // No image read, no blob asked about, nothing written.
    assert_eq!(
        asked,
        [
            ("GET", "/v2/round-trips/from/manifests/v1"),
            ("HEAD", "/v2/round-trips/to/manifests/v1")
        ],
        "{exchanges:#?}"
    );
}

#[test]
fn a_registry_to_registry_copy_opens_source_and_destination_at_once() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/source:v1");
    let proxy =
        registry.proxy(Faults::none().with(Rule::delay(Match::prefix("GET", "/v2/"), HOLD)));
    copy_within(&proxy, "round-trips/source:v1", "round-trips/copy:v1");
    let exchanges = proxy.exchanges();
    assert!(
        side_by_side(&exchanges, |e| e.method == "GET" && e.target == "/v2/"),
        "the source was opened before the destination: {exchanges:#?}"
    );
}

#[test]
fn a_list_copy_reads_its_instance_manifests_side_by_side() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/list:v1");
    let proxy = registry.proxy(Faults::none().with(Rule::delay(
        Match::contains("GET", "/manifests/sha256:"),
        HOLD,
    )));
    let out = std::env::temp_dir().join(format!("ferry-round-trips-{}", std::process::id()));
    let result = ferry(&[
        "copy",
        "--all",
        "--progress",
        "none",
        "--src-tls-verify=false",
        &format!("docker://{}/round-trips/list:v1", proxy.host()),
        &format!("oci:{}:v1", out.display()),
    ]);
    let _ = std::fs::remove_dir_all(&out);
    succeeded(&result);
    let exchanges = proxy.exchanges();
    assert!(
        side_by_side(&exchanges, |e| e.target.contains("/manifests/sha256:")),
        "the instances were read one after another: {exchanges:#?}"
    );
}

#[test]
fn a_list_copy_writes_its_instance_manifests_side_by_side_and_the_list_after_them() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry
        .proxy(Faults::none().with(Rule::delay(Match::contains("PUT", "/manifests/"), HOLD)));
    push_demo_to(&format!("docker://{}/round-trips/written:v1", proxy.host()));
    let exchanges = proxy.exchanges();
    let instance = |e: &Exchange| e.method == "PUT" && e.target.contains("/manifests/sha256:");
    assert!(
        side_by_side(&exchanges, instance),
        "the instances were written one after another: {exchanges:#?}"
    );
    // The list names them: it goes out alone, once every one is written.
    let list = exchanges
        .iter()
        .position(|e| e.method == "PUT" && e.target.ends_with("/manifests/v1"))
        .expect("the list was written");
    assert!(exchanges[list].alongside.is_empty(), "{exchanges:#?}");
    assert!(
        exchanges[list + 1..].iter().all(|e| !instance(e)),
        "an instance was written after the list: {exchanges:#?}"
    );
}

#[test]
fn an_insecure_registry_is_pinged_over_http_beside_the_https_attempt() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/insecure:v1");
    // Holds every answer back, the refused TLS attempt's included.
    let proxy = registry.proxy(Faults::none().with(Rule::delay(Match::any(), HOLD)));
    succeeded(&ferry(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/round-trips/insecure:v1", proxy.host()),
    ]));
    let exchanges = proxy.exchanges();
    let tls = |i: &usize| exchanges[*i].method.is_empty();
    let ping = exchanges
        .iter()
        .find(|e| e.method == "GET" && e.target == "/v2/")
        .expect("the registry was pinged over HTTP");
    assert!(
        ping.alongside.iter().any(tls),
        "HTTP was tried only after HTTPS was refused: {exchanges:#?}"
    );
}

/// Whether exchanges `i` and `j` were in flight together.
fn overlap(exchanges: &[Exchange], i: usize, j: usize) -> bool {
    i != j && (exchanges[i].alongside.contains(&j) || exchanges[j].alongside.contains(&i))
}

fn push_with_credentials(registry: &Registry, destination: &str, jobs: &str) {
    let mut args: Vec<String> = ["copy", "--all", "--jobs", jobs, "--progress", "none"]
        .map(String::from)
        .to_vec();
    args.extend(registry.skopeo_flags(SkopeoSide::Dest));
    args.extend(["demo:".to_string(), destination.to_string()]);
    succeeded(&ferry(&args));
}

#[test]
fn a_push_to_a_token_registry_fetches_its_token_when_opened_so_no_request_is_refused() {
    let registry = Registry::start(Setup::token("bob", "builder"));
    let proxy = registry.proxy(Faults::none());
    push_with_credentials(
        &registry,
        &format!("docker://{}/round-trips/token:v1", proxy.host()),
        "4",
    );
    let exchanges = proxy.exchanges();
    // Only the ping meets the challenge; every request after it carries
    // the token fetched in answer to the ping's.
    let refused: Vec<_> = exchanges
        .iter()
        .filter(|e| e.status == Some(401) && e.target != "/v2/")
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    let tokens = registry.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
}

#[test]
fn the_first_blob_check_goes_out_beside_the_others() {
    let registry = Registry::start(Setup::token("bob", "builder"));
    let destination = registry.docker_ref("round-trips/first:v1");
    push_with_credentials(&registry, &destination, "4");
    let proxy = registry.proxy(
        Faults::none()
            .with(Rule::delay(Match::contains("HEAD", "/blobs/sha256:"), HOLD))
            .with(lacking_the_list()),
    );
    push_with_credentials(
        &registry,
        &format!("docker://{}/round-trips/first:v1", proxy.host()),
        "4",
    );
    let exchanges = proxy.exchanges();
    let check = |e: &Exchange| e.method == "HEAD" && e.target.contains("/blobs/");
    let first = exchanges
        .iter()
        .position(check)
        .expect("the blobs were checked");
    assert!(
        (0..exchanges.len()).any(|j| check(&exchanges[j]) && overlap(&exchanges, first, j)),
        "the first check went alone: {exchanges:#?}"
    );
}

#[test]
fn blob_checks_reuse_the_connections_of_the_checks_before_them() {
    let registry = Registry::start(Setup::plain());
    push_demo(&registry, "round-trips/pooled:v1");
    let proxy = registry.proxy(Faults::none().with(lacking_the_list()));
    push_demo_with_one_job(&proxy, "round-trips/pooled:v1");
    let exchanges = proxy.exchanges();
    let checks = exchanges
        .iter()
        .filter(|e| e.method == "HEAD" && e.target.contains("/blobs/"))
        .count();
    let connections: std::collections::BTreeSet<_> = exchanges
        .iter()
        .filter(|e| !e.method.is_empty())
        .map(|e| e.connection)
        .collect();
    // More checks than may be in flight, over no more connections than
    // may be in flight: the ping's, one per check slot, and the two
    // questions about the list (its tag, its digest) beside them.
    assert!(checks > 7, "{exchanges:#?}");
    assert!(
        connections.len() <= 7,
        "{} connections: {exchanges:#?}",
        connections.len()
    );
}

/// `demo:` pushed with `--jobs 1` to `destination` over TLS, with `extra`
/// arguments before the two references.
fn push_demo_over_tls(registry: &Registry, extra: &[&str], destination: &str) {
    let mut args: Vec<String> = ["copy", "--all", "--jobs", "1", "--progress", "none"]
        .map(String::from)
        .to_vec();
    args.extend(registry.skopeo_flags(SkopeoSide::Dest));
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["demo:".to_string(), destination.to_string()]);
    succeeded(&ferry(&args));
}

#[test]
fn over_http2_a_warm_push_asks_about_every_blob_on_one_connection() {
    // distribution offers HTTP/2 over TLS.
    let registry = Registry::start(Setup::tls());
    // The layers and configs, under Docker manifests: every blob is
    // there, none of the manifests the push writes.
    push_demo_over_tls(
        &registry,
        &["--format", "v2s2"],
        &registry.docker_ref("round-trips/h2:layers"),
    );
    let proxy = registry.proxy(Faults::none());
    push_demo_over_tls(
        &registry,
        &[],
        &format!("docker://{}/round-trips/h2:v1", proxy.host()),
    );
    // With one job, HTTP/1.1 would have taken a connection per check in
    // flight (4) besides the ping's.
    assert_eq!(proxy.connections(), 1, "connections opened");
    let only = registry.skopeo_flags(SkopeoSide::Only);
    let mut inspect: Vec<&str> = vec!["inspect", "--raw"];
    inspect.extend(only.iter().map(String::as_str));
    let pushed = registry.docker_ref("round-trips/h2:v1");
    inspect.push(&pushed);
    assert_eq!(
        succeeded(&ferry(&inspect)),
        succeeded(&ferry(&["inspect", "--raw", "demo:"])),
    );
}

#[test]
fn over_http2_blobs_move_on_connections_of_their_own() {
    let registry = Registry::start(Setup::tls());
    let proxy = registry.proxy(Faults::none());
    push_demo_over_tls(
        &registry,
        &[],
        &format!("docker://{}/round-trips/h2-cold:v1", proxy.host()),
    );
    // The HTTP/2 connection of the ping, checks and manifests, and one
    // HTTP/1.1 connection for the one blob moving at a time.
    assert_eq!(proxy.connections(), 2, "connections opened");
}
