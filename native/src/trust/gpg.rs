//! Making simple-signing signatures with the user's GnuPG keys, through the
//! `gpg` binary, as containers/image makes them through gpgme
//! (`signature/mechanism_gpgme.go`): a normal (not detached, not armored,
//! not text-mode) signature of the payload by the key the user names,
//! with the passphrase given in loopback mode when there is one. `gpg`
//! finds the key in `$GNUPGHOME` (or `~/.gnupg`), unless [`Gpg::home`]
//! names another directory.
//!
//! What to sign (the simple-signing payload) is ferry-core's to lay out;
//! this module only runs gpg over the bytes and reads what it reports.

use std::ffi::OsString;
use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The program run unless [`Gpg::program`] says otherwise.
pub const DEFAULT_PROGRAM: &str = "gpg";

/// Why gpg made no signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GpgError {
    /// No key to sign with was named.
    NoKey,
    /// `program` is not installed (or not on `PATH`).
    NotInstalled { program: String },
    /// `program` could not be started, or talked to.
    Io { program: String, error: String },
    /// gpg has no secret key `key` (or the key is not usable for signing:
    /// `reason` is gpg's INV_SGNR reason).
    UnknownKey { key: String, reason: &'static str },
    /// The passphrase for `key` is wrong.
    BadPassphrase { key: String },
    /// `key` needs a passphrase, and none was given (nor could gpg ask).
    MissingPassphrase { key: String },
    /// The passphrase could not be handed to gpg.
    Passphrase { error: String },
    /// gpg failed for another reason; `stderr` is what it said.
    Failed { status: Option<i32>, stderr: String },
}

impl fmt::Display for GpgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpgError::NoKey => write!(f, "no key to sign with was named"),
            GpgError::NotInstalled { program } => write!(
                f,
                "cannot sign: {program} is not installed (signing with --sign-by uses GnuPG)"
            ),
            GpgError::Io { program, error } => write!(f, "cannot run {program}: {error}"),
            GpgError::UnknownKey { key, reason } => {
                write!(f, "gpg cannot sign with key {key}: {reason}")
            }
            GpgError::BadPassphrase { key } => write!(f, "wrong passphrase for key {key}"),
            GpgError::MissingPassphrase { key } => write!(
                f,
                "key {key} needs a passphrase (give one with --sign-passphrase-file)"
            ),
            GpgError::Passphrase { error } => {
                write!(f, "cannot hand the passphrase to gpg: {error}")
            }
            GpgError::Failed { status, stderr } => {
                let status = status.map_or_else(|| "a signal".to_string(), |s| s.to_string());
                write!(f, "gpg failed (exit status {status}): {}", stderr.trim())
            }
        }
    }
}

impl std::error::Error for GpgError {}

/// How to run gpg.
#[derive(Debug, Clone)]
pub struct Gpg {
    program: OsString,
    home: Option<PathBuf>,
}

impl Default for Gpg {
    fn default() -> Self {
        Gpg {
            program: DEFAULT_PROGRAM.into(),
            home: None,
        }
    }
}

impl Gpg {
    /// `gpg` from `PATH`, with the environment's `GNUPGHOME`.
    pub fn new() -> Self {
        Gpg::default()
    }

    /// Runs `program` instead of `gpg`.
    pub fn program(mut self, program: impl Into<OsString>) -> Self {
        self.program = program.into();
        self
    }

    /// Uses `dir` as `GNUPGHOME` for gpg (the environment's otherwise).
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Signs `payload` with `key` (a fingerprint, or anything gpg's
    /// `--local-user` takes) and returns the OpenPGP signed message.
    /// `passphrase` is handed to gpg in loopback pinentry mode; without
    /// one, gpg asks its agent as usual.
    pub fn sign(
        &self,
        payload: &[u8],
        key: &str,
        passphrase: Option<&str>,
    ) -> Result<Vec<u8>, GpgError> {
        if key.trim().is_empty() {
            return Err(GpgError::NoKey);
        }
        let program = self.program.to_string_lossy().into_owned();
        let mut command = Command::new(&self.program);
        command.args(["--batch", "--no-tty", "--status-fd", "2"]);
        if let Some(home) = &self.home {
            command.env("GNUPGHOME", home);
        }
        // Kept until gpg has exited; removed when dropped.
        let passphrase_file = match passphrase {
            Some(passphrase) => {
                let mut file =
                    tempfile::NamedTempFile::new().map_err(|e| GpgError::Passphrase {
                        error: e.to_string(),
                    })?;
                writeln!(file, "{passphrase}")
                    .and_then(|()| file.flush())
                    .map_err(|e| GpgError::Passphrase {
                        error: e.to_string(),
                    })?;
                command
                    .args(["--pinentry-mode", "loopback", "--passphrase-file"])
                    .arg(file.path());
                Some(file)
            }
            None => None,
        };
        command
            .arg("--local-user")
            .arg(key)
            .args(["--output", "-", "--sign"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let mut child = command.spawn().map_err(|e| match e.kind() {
            ErrorKind::NotFound => GpgError::NotInstalled {
                program: program.clone(),
            },
            _ => GpgError::Io {
                program: program.clone(),
                error: e.to_string(),
            },
        })?;
        let output = std::thread::scope(|scope| {
            let stdin = child.stdin.take();
            scope.spawn(move || {
                if let Some(mut stdin) = stdin {
                    // gpg may exit before reading (an unknown key): its
                    // status lines say why, not this broken pipe.
                    let _ = stdin.write_all(payload);
                }
            });
            child.wait_with_output()
        })
        .map_err(|e| GpgError::Io {
            program: program.clone(),
            error: e.to_string(),
        })?;
        drop(passphrase_file);

        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(error) = status_error(&stderr, key, passphrase.is_some()) {
            return Err(error);
        }
        if !output.status.success() || output.stdout.is_empty() {
            return Err(GpgError::Failed {
                status: output.status.code(),
                stderr: stderr.into_owned(),
            });
        }
        Ok(output.stdout)
    }
}

/// What gpg's status lines (`--status-fd`) say went wrong, if anything.
fn status_error(stderr: &str, key: &str, had_passphrase: bool) -> Option<GpgError> {
    let key = key.to_string();
    let mut bad_passphrase = false;
    let mut missing_passphrase = false;
    for line in stderr.lines() {
        let Some(status) = line.strip_prefix("[GNUPG:] ") else {
            continue;
        };
        let mut words = status.split_whitespace();
        match words.next() {
            Some("INV_SGNR") => {
                return Some(GpgError::UnknownKey {
                    key,
                    reason: invalid_signer_reason(words.next().unwrap_or("")),
                });
            }
            Some("NO_SGNR") => {
                return Some(GpgError::UnknownKey {
                    key,
                    reason: "no usable signer",
                });
            }
            Some("BAD_PASSPHRASE") => bad_passphrase = true,
            Some("MISSING_PASSPHRASE") => missing_passphrase = true,
            // FAILURE <location> <gpg-error code>: the low 16 bits name
            // the error (libgpg-error's gpg-error.h).
            Some("FAILURE") => {
                let code = words.nth(1).and_then(|c| c.parse::<u32>().ok());
                match code.map(|c| c & 0xffff) {
                    Some(11) => bad_passphrase = true,
                    Some(85 | 99 | 177 | 178) => missing_passphrase = true,
                    Some(17 | 54) => {
                        return Some(GpgError::UnknownKey {
                            key,
                            reason: "no secret key",
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if bad_passphrase || (missing_passphrase && had_passphrase) {
        return Some(GpgError::BadPassphrase { key });
    }
    if missing_passphrase {
        return Some(GpgError::MissingPassphrase { key });
    }
    None
}

/// gpg's INV_SGNR reason codes (doc/DETAILS in GnuPG).
fn invalid_signer_reason(code: &str) -> &'static str {
    match code {
        "1" => "not found",
        "2" => "ambiguous specification",
        "3" => "wrong key usage",
        "4" => "key revoked",
        "5" => "key expired",
        "9" => "no secret key",
        "10" => "key not trusted",
        "13" => "key disabled",
        "14" => "syntax error in the key specification",
        _ => "no secret key usable for signing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_signer_status_names_the_key_and_the_reason() {
        let stderr =
            "gpg: skipped \"X\": No secret key\n[GNUPG:] INV_SGNR 9 X\n[GNUPG:] FAILURE sign 17\n";
        assert_eq!(
            status_error(stderr, "X", false),
            Some(GpgError::UnknownKey {
                key: "X".into(),
                reason: "no secret key"
            })
        );
    }

    #[test]
    fn a_bad_passphrase_status_is_a_bad_passphrase() {
        let stderr = "[GNUPG:] BAD_PASSPHRASE 0123456789ABCDEF\n";
        assert_eq!(
            status_error(stderr, "K", true),
            Some(GpgError::BadPassphrase { key: "K".into() })
        );
    }

    #[test]
    fn a_failure_with_a_bad_passphrase_code_is_a_bad_passphrase() {
        // gpg 2.2 with a wrong passphrase in loopback mode says only this.
        let stderr = "gpg: signing failed: Bad passphrase\n[GNUPG:] FAILURE sign 67108875\n";
        assert_eq!(
            status_error(stderr, "K", true),
            Some(GpgError::BadPassphrase { key: "K".into() })
        );
    }

    #[test]
    fn human_messages_are_not_status_lines() {
        assert_eq!(status_error("gpg: INV_SGNR 9 X\n", "X", false), None);
    }

    #[test]
    fn a_missing_program_is_not_installed() {
        let gpg = Gpg::new().program("/nonexistent/ferry-test-gpg");
        assert_eq!(
            gpg.sign(b"payload", "ABCD", None),
            Err(GpgError::NotInstalled {
                program: "/nonexistent/ferry-test-gpg".into()
            })
        );
    }

    #[test]
    fn an_empty_key_is_refused_before_running_gpg() {
        let gpg = Gpg::new().program("/nonexistent/ferry-test-gpg");
        assert_eq!(gpg.sign(b"payload", " ", None), Err(GpgError::NoKey));
    }
}
