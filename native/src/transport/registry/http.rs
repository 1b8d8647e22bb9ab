//! The HTTP details every part of the registry client shares: errors from
//! reqwest, bounded bodies, headers.

use ferry_core::registry::response;

use crate::transport::TransportError;

pub(crate) fn http_error(what: &str, location: &str, error: reqwest::Error) -> TransportError {
    // reqwest's message carries the URL, never credentials; its causes
    // (a refused redirect, a reset connection) say what actually happened.
    let mut reason = format!("{what}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let location = location.to_string();
    if error.is_redirect() {
        // A redirect ferry refuses to follow: the answer, not the
        // connection, is at fault.
        TransportError::Malformed { location, reason }
    } else if error.is_builder() {
        TransportError::Internal { location, reason }
    } else {
        TransportError::Network { location, reason }
    }
}

/// Why a bounded body could not be read.
pub(super) enum BodyError {
    Http(reqwest::Error),
    /// Longer than this limit (or endless).
    TooLarge(usize),
}

/// Reads a body of at most `limit` bytes, stopping as soon as it is
/// longer, so an endless response costs no more than the limit.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// [`read_limited`] for a body that is needed whole: a failed read is an
/// error `reading` at `location`; a body over the limit is malformed, as
/// `too_large` (given the limit) says.
pub(super) async fn read_body(
    response: reqwest::Response,
    limit: usize,
    location: &str,
    reading: &str,
    too_large: impl FnOnce(usize) -> String,
) -> Result<Vec<u8>, TransportError> {
    read_limited(response, limit).await.map_err(|e| match e {
        BodyError::Http(e) => http_error(reading, location, e),
        BodyError::TooLarge(limit) => TransportError::Malformed {
            location: location.to_string(),
            reason: too_large(limit),
        },
    })
}

/// An error body, cut at [`response::MAX_ERROR_BODY`]: only its message
/// matters, and a hostile one must not fill memory.
pub(super) async fn error_body(response: reqwest::Response) -> Vec<u8> {
    read_limited(response, response::MAX_ERROR_BODY)
        .await
        .unwrap_or_default()
}

/// An unsuccessful response's error codes, and a `code: message` line for
/// each error its body names.
pub(super) async fn error_details(response: reqwest::Response) -> (Vec<String>, Vec<String>) {
    let errors = response::error_codes(&error_body(response).await);
    let codes = errors.iter().map(|e| e.0.clone()).collect();
    let lines = errors.iter().map(|(c, m)| format!("{c}: {m}")).collect();
    (codes, lines)
}

pub(super) fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn base64_encode(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
