//! `ferry serve`: the inspector's files and the read-only registry proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use ferry_tests::registry::{DEMO_INDEX_DIGEST, Registry, Setup, ferry_bin};

/// The server process, killed on drop.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(web: &std::path::Path) -> Server {
    let mut child = Command::new(ferry_bin())
        .env("HOME", ferry_tests::test_home())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-verify=false",
            "--web",
        ])
        .arg(web)
        .args(["--pkg"])
        .arg(web)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .trim_start_matches("Serving the inspector on http://")
        .trim_end_matches('/')
        .to_string();
    Server { child, address }
}

/// One raw HTTP/1.1 request; returns status, headers and body.
fn request(address: &str, method: &str, target: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

#[test]
fn serves_the_page_and_proxies_registry_reads() {
    let registry = Registry::start(Setup::plain());
    let push = Command::new(ferry_bin())
        .env("HOME", ferry_tests::test_home())
        .args([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--progress",
            "none",
            "demo:",
            &registry.docker_ref("served/demo:v1"),
        ])
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );

    let web = std::env::temp_dir().join(format!("ferry-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><title>inspector</title>",
    )
    .unwrap();
    let server = start(&web);

    let (status, head, body) = request(&server.address, "GET", "/");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"));
    assert_eq!(body, b"<!doctype html><title>inspector</title>");

    let reference = registry.docker_ref("served/demo:v1");
    let (status, head, body) = request(
        &server.address,
        "GET",
        &format!("/api/manifest?ref={reference}"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        ferry_core::Digest::sha256_of(&body).to_string(),
        DEMO_INDEX_DIGEST
    );
    assert!(
        head.contains(&format!("X-Ferry-Digest: {DEMO_INDEX_DIGEST}")),
        "{head}"
    );

    // An instance, then its config, through the proxy.
    let list = ferry_core::List::parse(&body).unwrap();
    let instance = &list.entries[0].digest_text;
    let (status, _, manifest) = request(
        &server.address,
        "GET",
        &format!("/api/manifest?ref={reference}&digest={instance}"),
    );
    assert_eq!(status, 200);
    let config = ferry_core::Manifest::parse(&manifest)
        .unwrap()
        .config()
        .digest_text;
    let (status, _, blob) = request(
        &server.address,
        "GET",
        &format!("/api/blob?ref={reference}&digest={config}"),
    );
    assert_eq!(status, 200);
    assert_eq!(ferry_core::Digest::sha256_of(&blob).to_string(), config);

    // Only reads, only inside the web folder, only registries.
    assert_eq!(request(&server.address, "POST", "/api/manifest").0, 405);
    assert_eq!(request(&server.address, "GET", "/../../etc/passwd").0, 403);
    assert_eq!(
        request(&server.address, "GET", "/api/manifest?ref=dir:/etc").0,
        400
    );
    let _ = std::fs::remove_dir_all(&web);
}
