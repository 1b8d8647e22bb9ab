//! `ferry login` / `ferry logout` against docker-registry with Basic auth
//! and with token auth: credentials are checked before they are stored,
//! the file is the auth.json skopeo reads and writes, and every other
//! command finds them there.

use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use ferry_tests::registry::{
    DemoImage, Registry, Setup, failed, ferry, ferry_command, skopeo, succeeded,
};

/// `ferry login` with the password on standard input.
fn login(registry: &Registry, authfile: &Path, user: &str, password: &str) -> Output {
    let mut child = ferry_command()
        .args([
            "login",
            "--tls-verify=false",
            "--authfile",
            authfile.to_str().unwrap(),
            "--username",
            user,
            "--password-stdin",
            &registry.host(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_login_is_checked_stored_and_used_by_copy_and_by_skopeo() {
    let registry = Registry::start(Setup::basic("alice", "wonder"));
    let dir = tempfile::tempdir().unwrap();
    let authfile = dir.path().join("auth.json");
    let out = succeeded(&login(&registry, &authfile, "alice", "wonder"));
    assert!(out.contains("Login Succeeded"), "{out}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&authfile).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // ferry copy finds the credentials with no --dest-creds.
    let demo = DemoImage::make();
    succeeded(&ferry(&[
        "copy",
        "--dest-tls-verify=false",
        "--authfile",
        authfile.to_str().unwrap(),
        &demo.dir_ref(),
        &registry.docker_ref("demo:1"),
    ]));
    // And skopeo reads the same file.
    let out = skopeo([
        "list-tags",
        "--tls-verify=false",
        "--authfile",
        authfile.to_str().unwrap(),
        &registry.docker_ref("demo"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who = succeeded(&ferry(&[
        "login",
        "--get-login",
        "--authfile",
        authfile.to_str().unwrap(),
        &registry.host(),
    ]));
    assert_eq!(who.trim(), "alice");
}

#[test]
fn wrong_credentials_are_refused_and_nothing_is_stored() {
    for setup in [
        Setup::basic("alice", "wonder"),
        Setup::token("alice", "wonder"),
    ] {
        let registry = Registry::start(setup);
        let dir = tempfile::tempdir().unwrap();
        let authfile = dir.path().join("auth.json");
        let error = failed(&login(&registry, &authfile, "alice", "guess"));
        assert!(error.contains(&registry.host()), "{error}");
        assert!(!authfile.exists());
    }
}

#[test]
fn a_login_to_a_token_registry_is_checked_with_the_token_server() {
    let registry = Registry::start(Setup::token("alice", "wonder"));
    let dir = tempfile::tempdir().unwrap();
    let authfile = dir.path().join("auth.json");
    succeeded(&login(&registry, &authfile, "alice", "wonder"));
    assert!(
        registry
            .token_requests()
            .iter()
            .any(|r| r.user.as_deref() == Some("alice"))
    );
}

#[test]
fn ferry_reads_what_skopeo_login_writes() {
    let registry = Registry::start(Setup::basic("alice", "wonder"));
    let dir = tempfile::tempdir().unwrap();
    let authfile = dir.path().join("auth.json");
    let out = skopeo([
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile.to_str().unwrap(),
        "--username",
        "alice",
        "--password",
        "wonder",
        &registry.host(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who = succeeded(&ferry(&[
        "login",
        "--get-login",
        "--authfile",
        authfile.to_str().unwrap(),
        &registry.host(),
    ]));
    assert_eq!(who.trim(), "alice");
}

#[test]
fn logout_removes_one_registry_or_all_and_says_when_there_was_nothing() {
    let first = Registry::start(Setup::basic("alice", "wonder"));
    let second = Registry::start(Setup::basic("bob", "builder"));
    let dir = tempfile::tempdir().unwrap();
    let authfile = dir.path().join("auth.json");
    succeeded(&login(&first, &authfile, "alice", "wonder"));
    succeeded(&login(&second, &authfile, "bob", "builder"));
    let logout = |registry: Option<&Registry>| {
        let mut args = vec![
            "logout".to_string(),
            "--authfile".to_string(),
            authfile.display().to_string(),
        ];
        match registry {
            Some(r) => args.push(r.host()),
            None => args.push("--all".into()),
        }
        ferry(&args)
    };
    succeeded(&logout(Some(&first)));
    let error = failed(&logout(Some(&first)));
    assert!(error.contains("not logged into"), "{error}");
    let get = |registry: &Registry| {
        ferry(&[
            "login",
            "--get-login",
            "--authfile",
            authfile.to_str().unwrap(),
            &registry.host(),
        ])
    };
    assert_eq!(succeeded(&get(&second)).trim(), "bob");
    succeeded(&logout(None));
    failed(&get(&second));
}
