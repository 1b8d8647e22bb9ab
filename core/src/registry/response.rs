//! What a registry's answer means for the next step.

use alloc::string::String;
use alloc::vec::Vec;

use crate::json::{self, Value};

/// The outcome of one HTTP exchange, as the client should act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Authenticate (or re-authenticate) and try again.
    Unauthorized,
    /// Not there.
    NotFound,
    /// A temporary condition: wait and retry (429, 5xx).
    Retry,
    /// The registry refuses this manifest type (the copy may convert).
    ManifestRejected,
    /// Anything else: fail with the registry's message.
    Failure,
}

/// Classifies a status, with the error codes from the body for 400s.
pub fn classify(status: u16, error_codes: &[String]) -> Outcome {
    match status {
        200..=299 => Outcome::Success,
        401 => Outcome::Unauthorized,
        404 => Outcome::NotFound,
        408 | 429 | 500 | 502 | 503 | 504 => Outcome::Retry,
        415 => Outcome::ManifestRejected,
        400 if error_codes
            .iter()
            .any(|c| c == "MANIFEST_INVALID" || c == "UNSUPPORTED" || c == "TAG_INVALID") =>
        {
            Outcome::ManifestRejected
        }
        _ => Outcome::Failure,
    }
}

/// Whether a manifest write the registry refused is worth another
/// attempt: one refused for naming a blob the registry does not know.
/// distribution 2.x links a blob into a repository by truncating its link
/// file and writing it again, so while another writer links the same blob
/// (a concurrent push, another shard of a sync) a manifest naming it is
/// refused for a moment, though the blob was confirmed. A blob that is
/// really missing fails the same way once the retries are spent.
pub fn manifest_write_again(status: u16, error_codes: &[String]) -> bool {
    status == 400
        && error_codes
            .iter()
            .any(|c| c == "MANIFEST_BLOB_UNKNOWN" || c == "BLOB_UNKNOWN")
}

/// Redirects followed for one request at most.
pub const MAX_REDIRECTS: usize = 10;

/// Whether to follow a redirect from `previous` to `next` after `hops`
/// redirects already followed; the reason when not. Credentials never
/// follow a redirect to another host or port (the HTTP client drops them);
/// this refuses what dropping them cannot make safe: a downgrade from
/// HTTPS to plain HTTP (on the same host and port the credentials would
/// travel in clear text), schemes other than http(s), and endless chains.
pub fn redirect_refusal(previous: &str, next: &str, hops: usize) -> Option<String> {
    let scheme = |url: &str| {
        url.split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default()
    };
    let (from, to) = (scheme(previous), scheme(next));
    if hops >= MAX_REDIRECTS {
        Some(alloc::format!("more than {MAX_REDIRECTS} redirects"))
    } else if to != "http" && to != "https" {
        Some(alloc::format!(
            "refusing to follow a redirect to {next}",
            next = crate::Quoted(next)
        ))
    } else if from == "https" && to == "http" {
        Some(alloc::format!(
            "refusing to follow a redirect from HTTPS to plain HTTP ({next})",
            next = crate::Quoted(next)
        ))
    } else {
        None
    }
}

/// The most of an error body read for its message; the rest is dropped.
pub const MAX_ERROR_BODY: usize = 1024 * 1024;

/// The largest tag list page read.
pub const MAX_TAG_LIST: usize = 16 * 1024 * 1024;

/// The registry error body: `{"errors":[{"code","message","detail"}]}`.
pub fn error_codes(body: &[u8]) -> Vec<(String, String)> {
    let Ok(Value::Object(top)) = json::parse(body) else {
        return Vec::new();
    };
    let Some(Value::Array(errors)) = top.get_exact("errors") else {
        return Vec::new();
    };
    errors
        .iter()
        .filter_map(Value::as_object)
        .map(|e| {
            let s = |k: &str| e.get_exact(k).and_then(Value::as_str).unwrap_or("").into();
            (s("code"), s("message"))
        })
        .collect()
}

/// What the answer to a cross-repository mount
/// (`POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=OTHER`) means.
///
/// containers/image takes every answer but 201 as "not mounted" and
/// uploads the blob instead, whatever the reason: a 401 or 403 usually
/// means the credentials may push here but not pull from the other
/// repository, which an upload does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountAnswer {
    /// 201: the repository has the blob now.
    Mounted,
    /// 202: the registry ignored the mount and opened an ordinary upload;
    /// cancel it (`DELETE` its `Location`) and upload the blob.
    UploadStarted,
    /// Anything else: refused; upload the blob.
    Refused,
}

/// Classifies the status of a mount request's final answer (after any
/// authentication and retries).
pub fn mount_answer(status: u16) -> MountAnswer {
    match status {
        201 => MountAnswer::Mounted,
        202 => MountAnswer::UploadStarted,
        _ => MountAnswer::Refused,
    }
}

/// How long to wait before retry number `attempt` (1-based), in
/// milliseconds: the server's `Retry-After` seconds when given (capped at
/// a minute), else exponential backoff from 200 ms, capped at 10 s.
pub fn retry_delay_ms(attempt: u32, retry_after: Option<&str>) -> u64 {
    if let Some(seconds) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return seconds.min(60) * 1000;
    }
    let exponent = attempt.saturating_sub(1).min(6);
    (200u64 << exponent).min(10_000)
}

/// The next page a paginated answer (tags, referrers) names in its
/// `Link` header, `<URL>; rel="next"`: the URL as written, relative to the
/// registry when it starts with `/`. `None`: the last page.
pub fn next_page(link: &str) -> Option<&str> {
    let start = link.find('<')? + 1;
    let end = start + link[start..].find('>')?;
    Some(&link[start..end])
}

/// The URL of a page [`next_page`] named: as written when absolute, else
/// on the registry at `base` (`scheme://host`).
pub fn page_url(base: &str, target: &str) -> String {
    if target.starts_with("http://") || target.starts_with("https://") {
        target.into()
    } else {
        alloc::format!("{base}{target}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_next_page_is_the_link_target() {
        assert_eq!(
            next_page(r#"</v2/r/referrers/sha256:1?n=2&last=b>; rel="next""#),
            Some("/v2/r/referrers/sha256:1?n=2&last=b")
        );
        assert_eq!(next_page("no link here"), None);
        assert_eq!(next_page("<unterminated"), None);
    }

    #[test]
    fn statuses_map_to_actions() {
        assert_eq!(classify(201, &[]), Outcome::Success);
        assert_eq!(classify(401, &[]), Outcome::Unauthorized);
        assert_eq!(classify(429, &[]), Outcome::Retry);
        assert_eq!(classify(503, &[]), Outcome::Retry);
        assert_eq!(classify(404, &[]), Outcome::NotFound);
        assert_eq!(
            classify(400, &["MANIFEST_INVALID".to_string()]),
            Outcome::ManifestRejected
        );
        assert_eq!(
            classify(400, &["DIGEST_INVALID".to_string()]),
            Outcome::Failure
        );
    }

    #[test]
    fn only_201_is_a_mount_and_every_refusal_means_upload() {
        assert_eq!(mount_answer(201), MountAnswer::Mounted);
        assert_eq!(mount_answer(202), MountAnswer::UploadStarted);
        for status in [200, 400, 401, 403, 404, 405, 500] {
            assert_eq!(mount_answer(status), MountAnswer::Refused, "{status}");
        }
    }

    #[test]
    fn reads_registry_error_bodies() {
        let codes = error_codes(
            br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#,
        );
        assert_eq!(
            codes,
            [(
                "MANIFEST_INVALID".to_string(),
                "manifest invalid".to_string()
            )]
        );
        assert!(error_codes(b"<html>").is_empty());
    }

    #[test]
    fn redirects_never_downgrade_leave_http_or_go_on_for_ever() {
        assert_eq!(redirect_refusal("http://a/x", "http://b/y", 0), None);
        assert_eq!(redirect_refusal("https://a/x", "https://cdn/y", 3), None);
        assert_eq!(redirect_refusal("http://a/x", "https://a/y", 0), None);
        for (from, to, hops) in [
            ("https://a:5000/x", "http://a:5000/x", 0),
            ("https://a/x", "file:///etc/passwd", 0),
            ("http://a/x", "http://a/y", MAX_REDIRECTS),
        ] {
            assert!(redirect_refusal(from, to, hops).is_some(), "{from} -> {to}");
        }
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(retry_delay_ms(1, None), 200);
        assert_eq!(retry_delay_ms(3, None), 800);
        assert_eq!(retry_delay_ms(20, None), 10_000);
        assert_eq!(retry_delay_ms(1, Some("2")), 2000);
        assert_eq!(retry_delay_ms(1, Some("999")), 60_000);
    }
}
