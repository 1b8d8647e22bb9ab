//! The real-registry harness checked against skopeo: every kind of
//! registry takes a push of ferry's demo image and gives it back, each auth
//! scheme challenges as distribution does, the token server grants what it
//! says, and the fault proxy injects what it says.
//!
//! Needs Debian's docker-registry and skopeo (scripts/install-deps.sh
//! services) and builds ferry for the demo image.

use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_tests::registry::{
    DEMO_INDEX_DIGEST, DemoImage, Faults, Match, Registry, Rule, Setup, SkopeoSide, request, skopeo,
};
use serde_json::Value;

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "skopeo failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "skopeo succeeded where it should not have:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `skopeo copy --all` from `source` to `destination` with extra flags.
fn copy(flags: &[String], source: &str, destination: &str) -> Output {
    let mut args = vec!["copy".to_string(), "--all".to_string()];
    args.extend_from_slice(flags);
    args.push(source.into());
    args.push(destination.into());
    skopeo(&args)
}

/// Pushes the demo image to `host` (the registry's or a proxy's) and pulls
/// it back into a fresh directory; the index comes back byte for byte.
fn round_trip(registry: &Registry, host: &str) {
    let image = DemoImage::make();
    let reference = format!("docker://{host}/demo:1");
    let push = registry.skopeo_flags(SkopeoSide::Dest);
    succeeded(&copy(&push, &image.dir_ref(), &reference));

    let back = tempfile::tempdir().unwrap();
    let pull = registry.skopeo_flags(SkopeoSide::Src);
    succeeded(&copy(
        &pull,
        &reference,
        &format!("dir:{}", back.path().display()),
    ));
    assert_eq!(
        std::fs::read(back.path().join("manifest.json")).unwrap(),
        image.index()
    );

    let mut inspect = vec!["inspect".to_string(), "--raw".to_string()];
    inspect.extend(registry.skopeo_flags(SkopeoSide::Only));
    inspect.push(reference);
    assert_eq!(succeeded(&skopeo(&inspect)).as_bytes(), image.index());
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// The claims and header of a compact JWT, unverified.
fn jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let decode = |part: &str| json(&URL_SAFE_NO_PAD.decode(part).unwrap());
    (decode(parts[0]), decode(parts[1]))
}

// ---------------------------------------------------------------- plain

#[test]
fn plain_registry_round_trips_the_demo_image() {
    let registry = Registry::start(Setup::plain());
    round_trip(&registry, &registry.host());
    let index = registry
        .request(
            "HEAD",
            "/v2/demo/manifests/1",
            &[("Accept", "application/vnd.oci.image.index.v1+json")],
        )
        .unwrap();
    assert_eq!(
        index.header("Docker-Content-Digest"),
        Some(DEMO_INDEX_DIGEST)
    );
}

#[test]
fn plain_registry_answers_v2_without_a_challenge() {
    let registry = Registry::start(Setup::plain());
    let response = registry.request("GET", "/v2/", &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Docker-Distribution-Api-Version"),
        Some("registry/2.0")
    );
    assert_eq!(response.header("WWW-Authenticate"), None);
    assert_eq!(registry.url(), format!("http://{}", registry.host()));
}

// ---------------------------------------------------------------- basic

#[test]
fn basic_registry_challenges_with_its_realm_and_checks_the_password() {
    let registry = Registry::start(Setup::basic("bob", "hunter2"));
    let anonymous = registry.request("GET", "/v2/", &[]).unwrap();
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.all("WWW-Authenticate"),
        ["Basic realm=\"ferry-registry\""]
    );

    let good = registry.credentials().unwrap().basic_authorization();
    let ok = registry
        .request("GET", "/v2/", &[("Authorization", &good)])
        .unwrap();
    assert_eq!(ok.status, 200);

    let bad = ferry_tests::registry::Credentials::new("bob", "wrong").basic_authorization();
    let refused = registry
        .request("GET", "/v2/", &[("Authorization", &bad)])
        .unwrap();
    assert_eq!(refused.status, 401);
}

#[test]
fn basic_registry_round_trips_with_credentials() {
    let registry = Registry::start(Setup::basic("bob", "hunter2"));
    round_trip(&registry, &registry.host());
}

#[test]
fn basic_registry_refuses_a_push_without_credentials() {
    let registry = Registry::start(Setup::basic("bob", "hunter2"));
    let image = DemoImage::make();
    let flags = [
        "--dest-tls-verify=false".to_string(),
        "--dest-no-creds".to_string(),
    ];
    let stderr = failed(&copy(
        &flags,
        &image.dir_ref(),
        &registry.docker_ref("demo:1"),
    ));
    assert!(
        stderr.contains("authentication required") || stderr.contains("unauthorized"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- token

#[test]
fn token_registry_challenges_with_realm_service_and_scope() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let realm = registry.token_server().unwrap().realm();

    let base = registry.request("GET", "/v2/", &[]).unwrap();
    assert_eq!(base.status, 401);
    assert_eq!(
        base.all("WWW-Authenticate"),
        [format!(
            "Bearer realm=\"{realm}\",service=\"ferry-registry\""
        )]
    );

    let tags = registry.request("GET", "/v2/demo/tags/list", &[]).unwrap();
    assert_eq!(tags.status, 401);
    assert_eq!(
        tags.all("WWW-Authenticate"),
        [format!(
            "Bearer realm=\"{realm}\",service=\"ferry-registry\",scope=\"repository:demo:pull\""
        )]
    );
}

#[test]
fn token_server_grants_exactly_the_requested_actions_to_its_user() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let token_server = registry.token_server().unwrap();
    let authorization = registry.credentials().unwrap().basic_authorization();
    let target = "/token?service=ferry-registry&scope=repository:demo:pull,push&account=alice";
    let response = request(
        token_server.addr(),
        "GET",
        target,
        &[("Authorization", &authorization)],
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());

    let body = json(&response.body);
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    let (header, claims) = jwt(body["token"].as_str().unwrap());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["x5c"].as_array().unwrap().len(), 2);
    assert_eq!(claims["iss"], "ferry-token-issuer");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "ferry-registry");
    assert_eq!(
        claims["access"],
        serde_json::json!([{ "type": "repository", "name": "demo", "actions": ["pull", "push"] }])
    );

    // The registry takes the token: authorized, and the repository is unknown.
    let bearer = format!("Bearer {}", body["token"].as_str().unwrap());
    let tags = registry
        .request("GET", "/v2/demo/tags/list", &[("Authorization", &bearer)])
        .unwrap();
    assert_eq!(tags.status, 404, "{}", tags.text());
    assert!(tags.text().contains("NAME_UNKNOWN"));

    let logged = registry.token_requests();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].user.as_deref(), Some("alice"));
    assert_eq!(logged[0].scopes, ["repository:demo:pull,push"]);
    assert_eq!(logged[0].service.as_deref(), Some("ferry-registry"));
    assert_eq!(logged[0].account.as_deref(), Some("alice"));
}

#[test]
fn token_server_gives_anonymous_requests_a_token_that_allows_nothing() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let token_server = registry.token_server().unwrap();
    let target = "/token?service=ferry-registry&scope=repository:demo:pull";
    let response = request(token_server.addr(), "GET", target, &[]).unwrap();
    assert_eq!(response.status, 200);
    let token = json(&response.body)["token"].as_str().unwrap().to_string();
    assert_eq!(jwt(&token).1["access"], serde_json::json!([]));

    let bearer = format!("Bearer {token}");
    let tags = registry
        .request("GET", "/v2/demo/tags/list", &[("Authorization", &bearer)])
        .unwrap();
    assert_eq!(tags.status, 401);
    let realm = token_server.realm();
    assert_eq!(
        tags.all("WWW-Authenticate"),
        [format!(
            "Bearer realm=\"{realm}\",service=\"ferry-registry\",scope=\"repository:demo:pull\",error=\"insufficient_scope\""
        )]
    );
    let logged = registry.token_requests();
    assert_eq!((logged[0].user.as_ref(), logged[0].rejected), (None, false));
}

#[test]
fn token_server_refuses_a_wrong_password() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let token_server = registry.token_server().unwrap();
    let wrong = ferry_tests::registry::Credentials::new("alice", "nope").basic_authorization();
    let target = "/token?service=ferry-registry&scope=repository:demo:pull";
    let response = request(
        token_server.addr(),
        "GET",
        target,
        &[("Authorization", &wrong)],
    )
    .unwrap();
    assert_eq!(response.status, 401);
    assert!(registry.token_requests()[0].rejected);
}

#[test]
fn token_server_answers_the_oauth2_password_grant() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let addr = registry.token_server().unwrap().addr();
    let form = "grant_type=password&username=alice&password=s3cret&service=ferry-registry\
                &scope=repository%3Ademo%3Apull&client_id=ferry";
    let response = {
        // A POST with a body: through a raw socket, as `request` sends none.
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let token = json(body.as_bytes())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        jwt(&token).1["access"][0]["actions"],
        serde_json::json!(["pull"])
    );
    let logged = registry.token_requests();
    assert_eq!(logged[0].method, "POST");
    assert_eq!(logged[0].client_id.as_deref(), Some("ferry"));
    assert_eq!(logged[0].user.as_deref(), Some("alice"));
}

#[test]
fn token_registry_round_trips_and_logs_every_token_request() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    round_trip(&registry, &registry.host());
    let logged = registry.token_requests();
    assert!(!logged.is_empty());
    for request in &logged {
        assert_eq!(request.user.as_deref(), Some("alice"), "{request:?}");
        assert_eq!(
            request.service.as_deref(),
            Some("ferry-registry"),
            "{request:?}"
        );
        assert_eq!(request.status, 200);
    }
    assert!(
        logged
            .iter()
            .any(|r| r.scopes.iter().any(|s| s == "repository:demo:pull,push")),
        "{logged:#?}"
    );
}

// ---------------------------------------------------------------- TLS

#[test]
fn tls_registry_round_trips_with_its_cert_dir() {
    let registry = Registry::start(Setup::tls());
    assert!(registry.url().starts_with("https://127.0.0.1:"));
    let cert_dir = registry.cert_dir().unwrap();
    assert_eq!(
        std::fs::read_to_string(cert_dir.join("ca.crt")).unwrap(),
        registry.ca_pem().unwrap()
    );
    assert!(registry.ca_path().unwrap().is_file());
    round_trip(&registry, &registry.host());
}

#[test]
fn tls_registry_is_refused_without_its_ca() {
    let registry = Registry::start(Setup::tls());
    let output = skopeo(["inspect", "--raw", &registry.docker_ref("demo:1")]);
    let stderr = failed(&output);
    assert!(
        stderr.contains("x509") || stderr.contains("certificate"),
        "{stderr}"
    );
}

#[test]
fn tls_registry_with_basic_auth_round_trips() {
    let registry = Registry::start(Setup::basic("bob", "hunter2").with_tls());
    round_trip(&registry, &registry.host());
}

#[test]
fn tls_registry_with_token_auth_round_trips_with_a_plain_http_realm() {
    let registry = Registry::start(Setup::token("alice", "s3cret").with_tls());
    assert!(
        registry
            .token_server()
            .unwrap()
            .realm()
            .starts_with("http://")
    );
    round_trip(&registry, &registry.host());
    assert!(registry.token_requests().iter().all(|r| r.status == 200));
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn dropping_a_registry_stops_its_process_and_removes_its_files() {
    let registry = Registry::start(Setup::token("alice", "s3cret").with_tls());
    let (pid, dir, addr) = (
        registry.pid(),
        registry.dir().to_path_buf(),
        registry.addr(),
    );
    let token = registry.token_server().unwrap().addr();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(registry);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists());
    assert!(std::net::TcpStream::connect(addr).is_err());
    assert!(std::net::TcpStream::connect(token).is_err());
}

#[tokio::test]
async fn works_from_inside_a_tokio_runtime() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let proxy = registry.proxy(Faults::none());
    let addr = proxy.addr();
    let response = tokio::task::spawn_blocking(move || request(addr, "GET", "/v2/", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 401);
    // Both drop here, inside the runtime, without blocking it for long.
}

// ---------------------------------------------------------------- proxy

#[test]
fn proxy_without_faults_forwards_everything_and_counts_it() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none());
    round_trip(&registry, &proxy.host());
    // skopeo tries HTTPS first even with --tls-verify=false: the proxy
    // relays that handshake as an opaque exchange (no method).
    let exchanges: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| !e.method.is_empty())
        .collect();
    assert!(proxy.connections() >= exchanges.len());
    assert_eq!(proxy.injected(), 0);
    assert!(
        exchanges.iter().all(|e| e.complete && e.status.is_some()),
        "{exchanges:#?}"
    );
    assert!(
        exchanges
            .iter()
            .any(|e| e.method == "PUT" && e.target == "/v2/demo/manifests/1")
    );
    assert!(
        exchanges
            .iter()
            .any(|e| e.method == "PATCH" || e.method == "PUT")
    );
}

#[test]
fn proxy_answers_429_once_and_skopeo_waits_for_retry_after() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none().with(Rule::too_many_requests(
        Match::prefix("HEAD", "/v2/demo/blobs/"),
        1,
    )));
    let image = DemoImage::make();
    let start = Instant::now();
    let flags = registry.skopeo_flags(SkopeoSide::Dest);
    succeeded(&copy(
        &flags,
        &image.dir_ref(),
        &format!("docker://{}/demo:1", proxy.host()),
    ));
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(proxy.fired(0), 1);
    let limited: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.status == Some(429))
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].faults, [0]);
}

#[test]
fn proxy_answers_500_once_which_fails_one_skopeo_push_and_not_the_next() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none().with(Rule::status(
        Match::prefix("PUT", "/v2/demo/manifests/"),
        500,
    )));
    let image = DemoImage::make();
    let flags = registry.skopeo_flags(SkopeoSide::Dest);
    let destination = format!("docker://{}/demo:1", proxy.host());
    // skopeo 1.9.3 retries no 5xx, not even with --retry-times.
    let stderr = failed(&copy(&flags, &image.dir_ref(), &destination));
    assert!(stderr.contains("500 Internal Server Error"), "{stderr}");
    succeeded(&copy(&flags, &image.dir_ref(), &destination));
    assert_eq!(proxy.fired(0), 1);
    let manifest_puts: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "PUT" && e.target.starts_with("/v2/demo/manifests/"))
        .map(|e| e.status)
        .collect();
    assert_eq!(manifest_puts[0], Some(500));
    assert!(
        manifest_puts[1..].iter().all(|s| *s == Some(201)),
        "{manifest_puts:?}"
    );
}

#[test]
fn proxy_reset_once_is_survived_with_skopeo_retry_times() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry
        .proxy(Faults::none().with(Rule::reset(Match::prefix("PUT", "/v2/demo/manifests/"))));
    let image = DemoImage::make();
    let mut flags = registry.skopeo_flags(SkopeoSide::Dest);
    flags.push("--retry-times=2".into());
    succeeded(&copy(
        &flags,
        &image.dir_ref(),
        &format!("docker://{}/demo:1", proxy.host()),
    ));
    assert_eq!(proxy.fired(0), 1);
    let reset: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.faults == [0])
        .collect();
    assert_eq!(reset.len(), 1);
    assert_eq!((reset[0].status, reset[0].complete), (None, false));
}

#[test]
fn proxy_cuts_a_response_body_once_after_the_bytes_it_was_given() {
    let registry = Registry::start(Setup::plain());
    round_trip(&registry, &registry.host());
    let proxy =
        registry.proxy(Faults::none().with(Rule::cut_body(Match::contains("GET", "/blobs/"), 100)));
    let index = json(&DemoImage::make().index());
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = registry
        .request(
            "GET",
            &format!("/v2/demo/manifests/{manifest_digest}"),
            &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        )
        .unwrap();
    let config = json(&manifest.body)["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let target = format!("/v2/demo/blobs/{config}");

    let cut = proxy.request("GET", &target, &[]);
    assert!(cut.is_err(), "{cut:?}");
    let whole = proxy.request("GET", &target, &[]).unwrap();
    assert_eq!(whole.status, 200);
    assert!(whole.body.len() > 100);

    assert_eq!(proxy.fired(0), 1);
    let exchanges = proxy.exchanges();
    assert_eq!(
        (exchanges[0].body_bytes, exchanges[0].complete),
        (100, false)
    );
    assert_eq!(exchanges[0].faults, [0]);
    assert_eq!(
        (exchanges[1].body_bytes, exchanges[1].complete),
        (whole.body.len() as u64, true)
    );
}

#[test]
fn proxy_cut_fails_one_skopeo_pull_and_the_next_succeeds() {
    let registry = Registry::start(Setup::plain());
    round_trip(&registry, &registry.host());
    let proxy =
        registry.proxy(Faults::none().with(Rule::cut_body(Match::contains("GET", "/blobs/"), 10)));
    let pull = |dir: &std::path::Path| {
        copy(
            &registry.skopeo_flags(SkopeoSide::Src),
            &format!("docker://{}/demo:1", proxy.host()),
            &format!("dir:{}", dir.display()),
        )
    };
    let first = tempfile::tempdir().unwrap();
    failed(&pull(first.path()));
    let second = tempfile::tempdir().unwrap();
    succeeded(&pull(second.path()));
    assert_eq!(proxy.fired(0), 1);
}

#[test]
fn proxy_delays_each_matching_response() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none().with(Rule::delay(
        Match::prefix("GET", "/v2/"),
        Duration::from_millis(300),
    )));
    for _ in 0..2 {
        let start = Instant::now();
        assert_eq!(proxy.request("GET", "/v2/", &[]).unwrap().status, 200);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }
    assert_eq!(proxy.fired(0), 2);
}

#[test]
fn proxy_records_which_requests_were_in_flight_together() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none().with(Rule::delay(
        Match::prefix("GET", "/v2/"),
        Duration::from_millis(300),
    )));
    // One after another: none beside another.
    for _ in 0..2 {
        assert_eq!(proxy.request("GET", "/v2/", &[]).unwrap().status, 200);
    }
    // Two at once: the later one arrived while the earlier was held.
    std::thread::scope(|s| {
        let both = [
            s.spawn(|| proxy.request("GET", "/v2/", &[])),
            s.spawn(|| proxy.request("GET", "/v2/", &[])),
        ];
        for one in both {
            assert_eq!(one.join().unwrap().unwrap().status, 200);
        }
    });
    let alongside: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .map(|e| e.alongside.len())
        .collect();
    assert_eq!(alongside[..2], [0, 0]);
    assert_eq!(alongside[2..].iter().sum::<usize>(), 1, "{alongside:?}");
}

#[test]
fn proxy_resets_the_first_matching_request_only() {
    let registry = Registry::start(Setup::plain());
    let proxy = registry.proxy(Faults::none().with(Rule::reset(Match::prefix("GET", "/v2/"))));
    assert!(proxy.request("GET", "/v2/", &[]).is_err());
    assert_eq!(proxy.request("GET", "/v2/", &[]).unwrap().status, 200);
    let statuses: Vec<_> = proxy.exchanges().into_iter().map(|e| e.status).collect();
    assert_eq!(statuses, [None, Some(200)]);
}

#[test]
fn proxy_passes_status_faults_through_to_token_auth_registries() {
    let registry = Registry::start(Setup::token("alice", "s3cret"));
    let proxy = registry
        .proxy(Faults::none().with(Rule::status(Match::prefix("GET", "/v2/"), 503).times(2)));
    for _ in 0..2 {
        let response = proxy.request("GET", "/v2/", &[]).unwrap();
        assert_eq!(response.status, 503);
        assert!(response.text().contains("UNAVAILABLE"));
    }
    let challenge = proxy.request("GET", "/v2/", &[]).unwrap();
    assert_eq!(challenge.status, 401);
    assert!(
        challenge
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer realm=")
    );
}

#[test]
fn proxy_relays_tls_as_opaque_bytes() {
    let registry = Registry::start(Setup::tls());
    let proxy = registry.proxy(Faults::none());
    round_trip(&registry, &proxy.host());
    let exchanges = proxy.exchanges();
    assert!(!exchanges.is_empty());
    assert!(
        exchanges
            .iter()
            .all(|e| e.method.is_empty() && e.body_bytes > 0),
        "{exchanges:#?}"
    );
}
