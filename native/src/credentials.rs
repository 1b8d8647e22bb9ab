//! Where registry credentials come from when `--creds` is not given: the
//! files containers tools and Docker use, in skopeo's order, and
//! `docker-credential-*` helpers. Reading the files and running helpers is
//! here; what a file says is ferry-core's `registry::credentials`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry_core::registry::credentials::{self, Found};

/// Why credentials could not be found or read.
#[derive(Debug)]
pub struct CredentialsError {
    pub source: String,
    pub reason: String,
}

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

impl std::error::Error for CredentialsError {}

/// The file `ferry login` writes and `ferry logout` edits, as podman
/// and skopeo choose it: `--authfile`, `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else
/// `/run/containers/UID/auth.json`.
pub fn login_file(authfile: Option<&Path>) -> PathBuf {
    if let Some(f) = authfile {
        return f.to_path_buf();
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        return PathBuf::from(f);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("containers/auth.json");
    }
    // Our own uid without libc: the owner of our /proc entry.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    PathBuf::from(format!("/run/containers/{uid}/auth.json"))
}

/// The files to look in, in order: `--authfile`, the file `ferry login`
/// writes ([`login_file`]), Docker's config
/// (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
pub fn files(authfile: Option<&Path>) -> Vec<PathBuf> {
    if let Some(f) = authfile {
        return vec![f.to_path_buf()];
    }
    let mut out = vec![login_file(None)];
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => out.push(PathBuf::from(dir).join("config.json")),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                out.push(PathBuf::from(home).join(".docker/config.json"));
            }
        }
    }
    out
}

/// Finds credentials for `registry` (`host[:port]`) in the first file that
/// has an entry. An explicit `--authfile` that cannot be read is an error;
/// the default files may be missing.
pub fn find(
    registry: &str,
    authfile: Option<&Path>,
) -> Result<Option<(String, String)>, CredentialsError> {
    for file in files(authfile) {
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if authfile.is_none() && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(CredentialsError {
                    source: file.display().to_string(),
                    reason: format!("cannot read: {e}"),
                });
            }
        };
        let found = credentials::lookup(&bytes, registry).map_err(|e| CredentialsError {
            source: file.display().to_string(),
            reason: e.reason,
        })?;
        match found {
            None => continue,
            Some(Found::Basic { username, password }) => return Ok(Some((username, password))),
            Some(Found::Helper(name)) => return helper(&name, registry).map(Some),
        }
    }
    Ok(None)
}

/// Runs `docker-credential-NAME get` with the registry on stdin.
fn helper(name: &str, registry: &str) -> Result<(String, String), CredentialsError> {
    use std::io::Write as _;
    let program = format!("docker-credential-{name}");
    let failure = |reason: String| CredentialsError {
        source: program.clone(),
        reason,
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(failure("invalid credential helper name".into()));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failure(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failure(format!("failed: {e}")))?;
    if !output.status.success() {
        return Err(failure(format!("found no credentials for {registry}")));
    }
    match credentials::parse_helper_output(&output.stdout).map_err(|e| failure(e.reason))? {
        Found::Basic { username, password } => Ok((username, password)),
        Found::Helper(_) => Err(failure("unexpected answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_authfile_is_the_only_file_consulted() {
        let dir = std::env::temp_dir().join(format!("ferry-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("auth.json");
        std::fs::write(
            &file,
            br#"{"auths":{"r.example":{"auth":"YWxpY2U6c2VjcmV0"}}}"#,
        )
        .unwrap();
        assert_eq!(files(Some(&file)), vec![file.clone()]);
        assert_eq!(
            find("r.example", Some(&file)).unwrap(),
            Some(("alice".to_string(), "secret".to_string()))
        );
        assert_eq!(find("other.example", Some(&file)).unwrap(), None);
        assert!(find("r.example", Some(&dir.join("missing.json"))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
