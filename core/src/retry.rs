//! Whether a failed step is worth another attempt.
//!
//! The one rule for every retry ferry makes: a registry request answered
//! with a temporary status, and a blob transfer fetched again from the
//! start. It is decided over plain data ([`Failure`]), which the native
//! side derives from its errors; what an HTTP status means comes from
//! [`registry::response::classify`](crate::registry::response::classify).
//!
//! Transient: a connection that could not be made or broke off, a status
//! the registry uses for "not now" (408, 429, 5xx), content damaged on its
//! way over the network, and a local I/O error (a blob stream that breaks
//! off while it is written surfaces as one). Never retried: refused or
//! missing credentials, malformed input (a document, an archive, a
//! response over its limit), content stored wrong at its source, and every
//! refusal (not found, unsupported, an invalid reference).

use alloc::string::String;

use crate::registry::response::{self, Outcome};

/// What went wrong, as far as the retry decision needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// No answer: the connection could not be made, timed out, or broke
    /// off.
    Network,
    /// An answer with this HTTP status and the registry's error codes.
    Status { status: u16, codes: &'a [String] },
    /// Credentials were refused, or are needed and were not given.
    Unauthorized,
    /// Input that does not parse, breaks a limit, or is hostile.
    Malformed,
    /// Content that is not what its digest or size names. `in_transit`:
    /// it came over the network, where a flipped byte or a cut body is a
    /// fault of that transfer; read from storage, it is stored wrong and
    /// another read finds the same.
    Integrity { in_transit: bool },
    /// A local file operation failed.
    Io,
    /// A refusal that another attempt cannot change: not found,
    /// unsupported, an invalid reference, an internal error.
    Refused,
}

/// Whether another attempt may succeed where this one failed.
pub fn is_transient(failure: &Failure) -> bool {
    match *failure {
        Failure::Network | Failure::Io => true,
        Failure::Status { status, codes } => response::classify(status, codes) == Outcome::Retry,
        Failure::Integrity { in_transit } => in_transit,
        Failure::Unauthorized | Failure::Malformed | Failure::Refused => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn network_failures_are_transient() {
        assert!(is_transient(&Failure::Network));
    }

    #[test]
    fn temporary_statuses_are_transient() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                is_transient(&Failure::Status { status, codes: &[] }),
                "{status}"
            );
        }
    }

    #[test]
    fn refusing_statuses_are_not_transient() {
        let codes: [String; 1] = ["MANIFEST_INVALID".to_string()];
        for (status, codes) in [
            (400, &codes[..]),
            (400, &[][..]),
            (401, &[]),
            (403, &[]),
            (404, &[]),
            (405, &[]),
            (415, &[]),
        ] {
            assert!(
                !is_transient(&Failure::Status { status, codes }),
                "{status}"
            );
        }
    }

    #[test]
    fn refused_credentials_are_not_transient() {
        assert!(!is_transient(&Failure::Unauthorized));
    }

    #[test]
    fn malformed_input_is_not_transient() {
        assert!(!is_transient(&Failure::Malformed));
    }

    #[test]
    fn content_damaged_in_transit_is_transient() {
        assert!(is_transient(&Failure::Integrity { in_transit: true }));
    }

    #[test]
    fn content_stored_wrong_is_not_transient() {
        assert!(!is_transient(&Failure::Integrity { in_transit: false }));
    }

    #[test]
    fn local_io_errors_are_transient() {
        assert!(is_transient(&Failure::Io));
    }

    #[test]
    fn refusals_are_not_transient() {
        assert!(!is_transient(&Failure::Refused));
    }
}
