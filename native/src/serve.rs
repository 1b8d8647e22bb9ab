//! `ferry serve`: the browser inspector's files and a read-only,
//! same-origin proxy to registries.
//!
//! Browsers cannot read most registries directly (no CORS headers, and
//! credentials live on this machine), so the page asks this server, which
//! uses ferry's registry transport with the local credentials. The server
//! only reads: it answers GET for manifests and small blobs (configs),
//! streams layers of any size (`/api/layer`, verified as they go), never
//! writes anywhere, listens on loopback unless told otherwise, and never
//! sends credentials to the page. It also lists a manifest's referrers
//! (`/api/referrers`, as `ferry inspect --referrers`) and judges an image
//! by the policy it was started with (`/api/verdict`, as `ferry verify
//! --json`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::Digest;
use ferry_core::manifest::MAX_MANIFEST_SIZE;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use ferry_core::plan::Selection;
use ferry_core::reference::Named;
use ferry_core::trust::Policy;

use crate::transport::reference::Reference;
use crate::transport::registry::{Registry, RegistryOptions};
use crate::transport::{BlobInfo, ImageSource};
use crate::trust::{PolicyError, Trust};

/// Where the page's files are, and how to reach registries.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The inspector (`web/`).
    pub web: PathBuf,
    /// The wasm package (`wasm/pkg`), served under `/pkg/`.
    pub pkg: PathBuf,
    /// Verify registries' TLS certificates.
    pub tls_verify: bool,
    /// Credentials file, as `--authfile`.
    pub authfile: Option<PathBuf>,
    /// The policy `/api/verdict` judges by.
    pub policy: ServePolicy,
    /// Where registries keep signatures (registries.d), as `ferry verify`
    /// reads them.
    pub lookaside: Arc<ferry_core::registry::lookaside::Config>,
}

/// The signature policy ferry serve was started with.
#[derive(Debug, Clone)]
pub enum ServePolicy {
    /// `--insecure-policy`: no image is judged.
    Disabled,
    /// The policy, read at start.
    Policy(Arc<Policy>),
    /// The policy could not be read at start; each verdict says why.
    Unusable(Arc<PolicyError>),
}

/// A response: status, content type, body.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    extra: Vec<(&'static str, String)>,
}

impl Reply {
    fn text(status: u16, message: impl Into<String>) -> Self {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: message.into().into_bytes(),
            extra: Vec::new(),
        }
    }
}

/// Serves connections from `listener` until the process ends.
pub async fn serve(listener: TcpListener, options: ServeOptions) -> std::io::Result<()> {
    let options = Arc::new(options);
    loop {
        let (stream, _) = listener.accept().await?;
        let options = options.clone();
        tokio::spawn(async move {
            let _ = handle(stream, &options).await;
        });
    }
}

async fn handle(mut stream: TcpStream, options: &ServeOptions) -> std::io::Result<()> {
    let (read, mut write) = stream.split();
    let mut reader = BufReader::new(read.take(64 * 1024));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    // Headers are read and ignored; the server needs none of them.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let reply = if method != "GET" && method != "HEAD" {
        Reply::text(405, "this server only reads")
    } else if target.split('?').next() == Some("/api/layer") {
        // A layer: any size, streamed, so the page can list it
        // without either side holding it whole.
        match open_blob(target, options).await {
            Ok((stream, digest)) => {
                return stream_blob(&mut write, method, stream, &digest).await;
            }
            Err(reply) => reply,
        }
    } else {
        route(target, options).await
    };
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        500 => "Internal Server Error",
        _ => "Bad Gateway",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    for (name, value) in &reply.extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    write.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        write.write_all(&reply.body).await?;
    }
    write.shutdown().await
}

fn query(target: &str, key: &str) -> Option<String> {
    let (_, q) = target.split_once('?')?;
    q.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(target: &str, options: &ServeOptions) -> Reply {
    let path = target.split('?').next().unwrap_or("/");
    match path {
        "/api/info" => info(),
        "/api/manifest" => manifest(target, options).await,
        "/api/blob" => blob(target, options).await,
        "/api/referrers" => referrers(target, options).await,
        "/api/verdict" => verdict(target, options).await,
        _ if path.starts_with("/pkg/") => static_file(&options.pkg, &path["/pkg/".len()..]).await,
        _ => static_file(&options.web, path.trim_start_matches('/')).await,
    }
}

/// What the page asks first: whether it is served by `ferry serve` (a plain
/// static host answers 404 here), and so may read registries through it.
fn info() -> Reply {
    Reply {
        status: 200,
        content_type: "application/json",
        body: format!(
            r#"{{"server":"ferry serve","version":"{}","proxy":["/api/manifest","/api/blob","/api/layer","/api/referrers","/api/verdict"]}}"#,
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes(),
        extra: Vec::new(),
    }
}

/// Opens the registry named by `?ref=docker://…`.
async fn registry(target: &str, options: &ServeOptions) -> Result<Registry, Reply> {
    Ok(named_registry(target, options).await?.1)
}

/// The reference `?ref=docker://…` names, and its registry opened.
async fn named_registry(target: &str, options: &ServeOptions) -> Result<(Named, Registry), Reply> {
    let Some(reference) = query(target, "ref") else {
        return Err(Reply::text(
            400,
            "missing ?ref=docker://HOST/REPOSITORY[:TAG|@DIGEST]",
        ));
    };
    let parsed = match Reference::parse(&reference) {
        Ok(Reference::Docker(r)) => r,
        Ok(_) => return Err(Reply::text(400, "only docker:// references are proxied")),
        Err(e) => return Err(Reply::text(400, e.to_string())),
    };
    let credentials = crate::credentials::find(parsed.domain(), options.authfile.as_deref())
        .map_err(|e| Reply::text(502, e.to_string()))?;
    let registry_options = RegistryOptions {
        credentials,
        tls_verify: options.tls_verify,
        cert_dir: None,
        retry_times: 2,
        lookaside: options.lookaside.clone(),
    };
    let registry = Registry::connect(&parsed, &registry_options, false)
        .await
        .map_err(|e| Reply::text(502, e.to_string()))?;
    Ok((parsed, registry))
}

fn json_reply(value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => Reply {
            status: 200,
            content_type: "application/json",
            body,
            extra: Vec::new(),
        },
        Err(e) => Reply::text(500, e.to_string()),
    }
}

/// The `?digest=` of a request, checked before anything reaches the
/// network; `None` when there is none.
fn optional_digest(target: &str) -> Result<Option<Digest>, Reply> {
    match query(target, "digest").map(|d| Digest::parse(&d)) {
        None => Ok(None),
        Some(Ok(d)) => Ok(Some(d)),
        Some(Err(e)) => Err(Reply::text(400, e.to_string())),
    }
}

/// The referrers of the manifest `?ref=` (or its `?digest=`) names and,
/// for a list, of its instances, with theirs, as `ferry inspect
/// --referrers --json` lists them: the referrers API, else the fallback
/// tag, within ferry-core's bounds.
async fn referrers(target: &str, options: &ServeOptions) -> Reply {
    let instance = match optional_digest(target) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let registry = match registry(target, options).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let (bytes, media_type) = match registry.manifest(instance.as_ref()).await {
        Ok(read) => read,
        Err(e) => return Reply::text(502, e.to_string()),
    };
    let media_type = media_type.unwrap_or_else(|| ferry_core::manifest::guess_media_type(&bytes));
    match crate::copy::manifest_referrers(&registry, &bytes, &media_type).await {
        Ok(found) => json_reply(&found),
        Err(e) => Reply::text(502, format!("listing the referrers: {e}")),
    }
}

/// Whether the policy ferry serve was started with allows the image
/// `?ref=` names, and why: what `ferry verify --json` prints for it.
async fn verdict(target: &str, options: &ServeOptions) -> Reply {
    let policy = match &options.policy {
        ServePolicy::Policy(p) => p.clone(),
        ServePolicy::Disabled => {
            return Reply::text(
                409,
                "this ferry serve judges no image (it was started with --insecure-policy)",
            );
        }
        ServePolicy::Unusable(e) => return Reply::text(500, e.to_string()),
    };
    let (named, registry) = match named_registry(target, options).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let Some(trust) = Trust::for_source((*policy).clone(), &Reference::Docker(named)) else {
        return Reply::text(500, "a registry image is judged by the policy");
    };
    // As `ferry verify REF`: for a list, the image this machine would run.
    let selection = Selection::System(crate::host::wanted_platform(None, None, None));
    match crate::trust::judge::judge_source(&registry, &trust, selection).await {
        Ok(verdicts) => json_reply(&crate::trust::judge::verdicts_json(&verdicts)),
        Err(e) => Reply::text(502, e.to_string()),
    }
}

async fn manifest(target: &str, options: &ServeOptions) -> Reply {
    // The request is checked before anything reaches the network.
    let instance = match query(target, "digest").map(|d| Digest::parse(&d)) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => return Reply::text(400, e.to_string()),
    };
    let registry = match registry(target, options).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match registry.manifest(instance.as_ref()).await {
        Ok((bytes, media_type)) => Reply {
            status: 200,
            content_type: "application/octet-stream",
            extra: vec![
                ("X-Ferry-Media-Type", media_type.unwrap_or_default()),
                (
                    "X-Ferry-Digest",
                    ferry_core::manifest::digest(&bytes)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
            ],
            body: bytes,
        },
        Err(e) => Reply::text(502, e.to_string()),
    }
}

/// Small blobs only (configs): the page shows them, it does not download
/// images.
/// The blob `?digest=` names, opened at the registry `?ref=` names. The
/// request is checked before anything reaches the network.
async fn open_blob(
    target: &str,
    options: &ServeOptions,
) -> Result<(crate::transport::BlobStream, Digest), Reply> {
    let digest = match query(target, "digest").map(|d| Digest::parse(&d)) {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(Reply::text(400, e.to_string())),
        None => return Err(Reply::text(400, "missing ?digest=")),
    };
    let registry = registry(target, options).await?;
    let info = BlobInfo {
        digest: digest.clone(),
        size: None,
        media_type: None,
    };
    match registry.blob(&info).await {
        Ok((stream, _)) => Ok((stream, digest)),
        Err(e) => Err(Reply::text(502, e.to_string())),
    }
}

/// Sends `stream` as a chunked body, verifying it against `digest` as it
/// goes. Content that does not match ends the connection before the last
/// chunk, so the page reads a failed transfer, never a complete wrong blob.
async fn stream_blob<W: AsyncWriteExt + Unpin>(
    write: &mut W,
    method: &str,
    mut stream: crate::transport::BlobStream,
    digest: &Digest,
) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
    write.write_all(head.as_bytes()).await?;
    if method == "HEAD" {
        return write.shutdown().await;
    }
    let mut hasher = digest.verifier();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
        write.write_all(&buf[..n]).await?;
        write.write_all(b"\r\n").await?;
    }
    if hasher.finish() != *digest {
        return Err(std::io::Error::other(format!(
            "the registry sent content that does not match {digest}"
        )));
    }
    write.write_all(b"0\r\n\r\n").await?;
    write.shutdown().await
}

async fn blob(target: &str, options: &ServeOptions) -> Reply {
    let (stream, digest) = match open_blob(target, options).await {
        Ok(opened) => opened,
        Err(reply) => return reply,
    };
    let mut bytes = Vec::new();
    if let Err(e) = stream
        .take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .await
    {
        return Reply::text(502, e.to_string());
    }
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Reply::text(403, "blobs over 4 MiB are not proxied");
    }
    if !digest.matches(&bytes) {
        return Reply::text(
            502,
            format!("the registry sent content that does not match {digest}"),
        );
    }
    Reply {
        status: 200,
        content_type: "application/octet-stream",
        body: bytes,
        extra: Vec::new(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// A file under `root`, never outside it.
async fn static_file(root: &Path, relative: &str) -> Reply {
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if relative.split('/').any(|c| c == ".." || c.starts_with('.')) || relative.contains('\\') {
        return Reply::text(403, "forbidden path");
    }
    let (Ok(root), Ok(path)) = (
        tokio::fs::canonicalize(root).await,
        tokio::fs::canonicalize(root.join(relative)).await,
    ) else {
        return Reply::text(404, "not found");
    };
    if !path.starts_with(&root) {
        return Reply::text(403, "forbidden path");
    }
    match tokio::fs::read(&path).await {
        Ok(body) => Reply {
            status: 200,
            content_type: content_type(&path),
            body,
            extra: Vec::new(),
        },
        Err(_) => Reply::text(404, "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts the server on a free loopback port over a web folder with
    /// one page and a package folder with one file.
    async fn server() -> (std::net::SocketAddr, tempfile::TempDir) {
        server_with(ServePolicy::Disabled).await
    }

    /// [`server`], judging by `policy`.
    async fn server_with(policy: ServePolicy) -> (std::net::SocketAddr, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(web.join(".hidden")).unwrap();
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(web.join("index.html"), "<!doctype html>page").unwrap();
        std::fs::write(web.join(".hidden/secret"), "no").unwrap();
        std::fs::write(pkg.join("m.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join("outside"), "no").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let options = ServeOptions {
            web,
            pkg,
            // The stand-in registry speaks plain HTTP.
            tls_verify: false,
            authfile: None,
            policy,
            lookaside: Default::default(),
        };
        tokio::spawn(serve(listener, options));
        (addr, dir)
    }

    /// One request; the status line's code, the headers and the body.
    async fn request(
        addr: std::net::SocketAddr,
        method: &str,
        target: &str,
    ) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head[9..12].parse().unwrap();
        (status, head, answer[split + 4..].to_vec())
    }

    #[tokio::test]
    async fn api_info_says_it_is_ferry_serve() {
        let (addr, _dir) = server().await;
        let (status, head, body) = request(addr, "GET", "/api/info").await;
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(info["server"], "ferry serve");
        assert_eq!(
            info["proxy"],
            serde_json::json!([
                "/api/manifest",
                "/api/blob",
                "/api/layer",
                "/api/referrers",
                "/api/verdict"
            ])
        );
    }

    #[tokio::test]
    async fn serves_the_page_and_the_package_with_their_types() {
        let (addr, _dir) = server().await;
        let (status, head, body) = request(addr, "GET", "/").await;
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"<!doctype html>page"[..])
        );
        assert!(head.contains("text/html"), "{head}");
        let (status, head, _) = request(addr, "GET", "/pkg/m.wasm").await;
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: application/wasm"), "{head}");
    }

    #[tokio::test]
    async fn refuses_paths_outside_its_folders_and_hidden_files() {
        let (addr, _dir) = server().await;
        for target in [
            "/../outside",
            "/pkg/../../outside",
            "/.hidden/secret",
            "/%2e%2e/outside",
        ] {
            let (status, _, body) = request(addr, "GET", target).await;
            assert!(
                status == 403 || status == 404,
                "{target}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            assert_ne!(body, b"no", "{target} leaked a file");
        }
    }

    #[tokio::test]
    async fn only_reads() {
        let (addr, _dir) = server().await;
        let (status, _, body) =
            request(addr, "PUT", "/api/manifest?ref=docker://localhost/x:y").await;
        assert_eq!(
            (status, body.as_slice()),
            (405, &b"this server only reads"[..])
        );
    }

    #[tokio::test]
    async fn bad_proxy_requests_say_what_is_wrong() {
        let (addr, _dir) = server().await;
        let (status, _, body) = request(addr, "GET", "/api/manifest").await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("missing ?ref=docker://"));
        let (status, _, body) = request(addr, "GET", "/api/manifest?ref=oci%3A%2Ftmp%2Fx").await;
        assert_eq!(
            (status, body.as_slice()),
            (400, &b"only docker:// references are proxied"[..])
        );
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/blob?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay&digest=sha256%3Azz",
        )
        .await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(
            String::from_utf8_lossy(&body).contains("sha256:zz"),
            "{}",
            String::from_utf8_lossy(&body)
        );
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/blob?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay",
        )
        .await;
        assert_eq!((status, body.as_slice()), (400, &b"missing ?digest="[..]));
    }

    /// What `stream_blob` writes for `content` said to be `digest`, and its result.
    async fn streamed(content: &'static [u8], digest: &Digest) -> (Vec<u8>, std::io::Result<()>) {
        let mut out = Vec::new();
        let stream: crate::transport::BlobStream = Box::pin(content);
        let result = stream_blob(&mut out, "GET", stream, digest).await;
        (out, result)
    }

    #[tokio::test]
    async fn a_layer_streams_chunked_and_ends_only_when_its_digest_matches() {
        // sha256("hello")
        let digest = Digest::parse(
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )
        .unwrap();
        let (out, result) = streamed(b"hello", &digest).await;
        result.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "{text}");
    }

    #[tokio::test]
    async fn a_layer_that_does_not_match_its_digest_never_ends_its_body() {
        let digest = Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
        let (out, result) = streamed(b"hello", &digest).await;
        let error = result.unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.ends_with("0\r\n\r\n"),
            "the last chunk was sent: {text}"
        );
    }

    #[tokio::test]
    async fn a_layer_request_without_a_digest_says_so() {
        let (addr, _dir) = server().await;
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/layer?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay",
        )
        .await;
        assert_eq!((status, body.as_slice()), (400, &b"missing ?digest="[..]));
    }
    /// A stand-in registry without the referrers API (404), as Debian's
    /// docker-registry 2.8: `img:latest` is `fixtures/serve/image.json`,
    /// whose fallback tag lists `sbom.json` (made its referrer). The
    /// image's and the referrer's bytes.
    async fn registry_with_a_referrer() -> (std::net::SocketAddr, Vec<u8>, Vec<u8>) {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve");
        let image = std::fs::read(fixtures.join("image.json")).unwrap();
        let image_digest = Digest::sha256_of(&image);
        let sbom = String::from_utf8(std::fs::read(fixtures.join("sbom.json")).unwrap())
            .unwrap()
            .replace("SUBJECT", image_digest.as_str())
            .replace("\"size\": 0", &format!("\"size\": {}", image.len()))
            .into_bytes();
        let sbom_digest = Digest::sha256_of(&sbom);
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/spdx+json",
                "digest": sbom_digest.as_str(),
                "size": sbom.len(),
                "annotations": {"org.opencontainers.image.created": "2026-12-02T00:00:00Z"}
            }]
        }))
        .unwrap();
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let manifests: Vec<(String, &'static str, Vec<u8>)> = vec![
            ("latest".into(), oci, image.clone()),
            (image_digest.to_string(), oci, image.clone()),
            (sbom_digest.to_string(), oci, sbom.clone()),
            (
                ferry_core::referrers::fallback_tag(&image_digest),
                "application/vnd.oci.image.index.v1+json",
                index,
            ),
        ];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let manifests = Arc::new(manifests);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let manifests = manifests.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.split();
                    let mut reader = BufReader::new(read);
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.is_err() {
                        return; // a TLS greeting, not HTTP
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).await.unwrap_or(0) <= 2 {
                            break;
                        }
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                    );
                    let found = if path == "/v2/" {
                        Some(("application/json", b"{}".to_vec()))
                    } else {
                        path.strip_prefix("/v2/img/manifests/").and_then(|at| {
                            manifests
                                .iter()
                                .find(|(name, _, _)| name == at)
                                .map(|(_, t, b)| (*t, b.clone()))
                        })
                    };
                    let (status, content_type, body) = match found {
                        Some((t, b)) => ("200 OK", t, b),
                        None => ("404 Not Found", "application/json", b"{}".to_vec()),
                    };
                    let digest = Digest::sha256_of(&body);
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nDocker-Content-Digest: {digest}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = write.write_all(head.as_bytes()).await;
                    if method != "HEAD" {
                        let _ = write.write_all(&body).await;
                    }
                    let _ = write.shutdown().await;
                });
            }
        });
        (addr, image, sbom)
    }

    fn fixture_policy(name: &str) -> ServePolicy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/serve")
            .join(name);
        ServePolicy::Policy(Arc::new(crate::trust::load_policy(&path).unwrap()))
    }

    fn escaped(reference: &str) -> String {
        reference
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace('@', "%40")
    }

    #[tokio::test]
    async fn referrers_are_listed_from_the_fallback_tag_where_the_registry_has_no_referrers_api() {
        let (registry, image, sbom) = registry_with_a_referrer().await;
        let (addr, _dir) = server().await;
        let target = format!(
            "/api/referrers?ref={}",
            escaped(&format!("docker://{registry}/img:latest"))
        );
        let (status, head, body) = request(addr, "GET", &target).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            listed,
            serde_json::json!([{
                "subject": Digest::sha256_of(&image).as_str(),
                "digest": Digest::sha256_of(&sbom).as_str(),
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/spdx+json",
                "size": sbom.len(),
                "annotations": {"org.opencontainers.image.created": "2026-12-02T00:00:00Z"},
                "depth": 1
            }])
        );
    }

    #[tokio::test]
    async fn a_referrer_has_no_referrers_of_its_own_here() {
        let (registry, _, sbom) = registry_with_a_referrer().await;
        let (addr, _dir) = server().await;
        let target = format!(
            "/api/referrers?ref={}&digest={}",
            escaped(&format!("docker://{registry}/img:latest")),
            escaped(Digest::sha256_of(&sbom).as_str())
        );
        let (status, _, body) = request(addr, "GET", &target).await;
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"[]"[..]),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    /// The verdict of `policy` for `img:latest`.
    async fn verdict_by(policy: ServePolicy) -> (u16, serde_json::Value) {
        let (registry, _, _) = registry_with_a_referrer().await;
        let (addr, _dir) = server_with(policy).await;
        let target = format!(
            "/api/verdict?ref={}",
            escaped(&format!("docker://{registry}/img:latest"))
        );
        let (status, _, body) = request(addr, "GET", &target).await;
        let verdict = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{status} {}", String::from_utf8_lossy(&body)));
        (status, verdict)
    }

    #[tokio::test]
    async fn a_verdict_allows_what_the_policy_accepts() {
        let (status, verdict) = verdict_by(fixture_policy("accept.json")).await;
        assert_eq!(status, 200);
        assert_eq!(verdict["allowed"], true, "{verdict}");
        let image = &verdict["images"][0];
        assert_eq!(image["allowed"], true, "{verdict}");
        assert!(
            image["image"].as_str().unwrap().ends_with("/img:latest"),
            "{verdict}"
        );
        assert_eq!(image["reason"], serde_json::Value::Null, "{verdict}");
    }

    #[tokio::test]
    async fn a_verdict_refuses_what_the_policy_rejects_and_says_why() {
        let (status, verdict) = verdict_by(fixture_policy("reject.json")).await;
        assert_eq!(status, 200);
        assert_eq!(verdict["allowed"], false, "{verdict}");
        let reason = verdict["images"][0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("reject"), "{verdict}");
    }

    #[tokio::test]
    async fn a_server_started_with_insecure_policy_judges_no_image() {
        let (addr, _dir) = server().await;
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/verdict?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay",
        )
        .await;
        assert_eq!(status, 409);
        assert!(
            String::from_utf8_lossy(&body).contains("--insecure-policy"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    #[tokio::test]
    async fn a_policy_unreadable_at_start_is_named_by_each_verdict() {
        let missing = Path::new("/nonexistent/ferry-serve-policy.json");
        let error = crate::trust::load_policy(missing).unwrap_err();
        let (addr, _dir) = server_with(ServePolicy::Unusable(Arc::new(error))).await;
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/verdict?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay",
        )
        .await;
        assert_eq!(status, 500);
        assert!(
            String::from_utf8_lossy(&body).contains("/nonexistent/ferry-serve-policy.json"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    #[tokio::test]
    async fn referrers_and_verdict_requests_are_checked_before_the_network() {
        let (addr, _dir) = server_with(fixture_policy("accept.json")).await;
        for route in ["/api/referrers", "/api/verdict"] {
            let (status, _, body) = request(addr, "GET", route).await;
            assert_eq!(status, 400, "{route}");
            assert!(String::from_utf8_lossy(&body).contains("missing ?ref=docker://"));
            let (status, _, body) =
                request(addr, "GET", &format!("{route}?ref=oci%3A%2Ftmp%2Fx")).await;
            assert_eq!(
                (status, body.as_slice()),
                (400, &b"only docker:// references are proxied"[..]),
                "{route}"
            );
        }
        let (status, _, body) = request(
            addr,
            "GET",
            "/api/referrers?ref=docker%3A%2F%2F127.0.0.1%3A1%2Fx%3Ay&digest=sha256%3Azz",
        )
        .await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("sha256:zz"));
    }
}
