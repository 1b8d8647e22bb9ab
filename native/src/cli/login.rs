//! `ferry login` and `ferry logout`, as skopeo and podman spell them:
//! credentials are checked against the registry, then stored in the
//! `auth.json` every other command reads (`ferry::credentials`). What the
//! file becomes is ferry-core's `registry::credentials`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use ferry::transport::registry::{Registry, RegistryOptions};
use ferry_core::reference::Named;
use ferry_core::registry::credentials;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry, `host[:port]`.
    registry: String,
    /// The user name.
    #[arg(short, long)]
    username: Option<String>,
    /// The password (visible to other users of this machine: prefer
    /// --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Print the user name stored for the registry; log in to nothing.
    #[arg(long, conflicts_with_all = ["username", "password", "password_stdin"])]
    get_login: bool,
    /// The credentials file (default: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, /run/containers/UID/auth.json).
    #[arg(long, value_name = "PATH")]
    authfile: Option<PathBuf>,
    /// Verify the registry's TLS certificate (false also allows plain
    /// HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// A directory of *.crt CA certificates for the registry.
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry, `host[:port]`.
    #[arg(required_unless_present = "all")]
    registry: Option<String>,
    /// Remove the credentials of every registry from the file.
    #[arg(short, long, conflicts_with = "registry")]
    all: bool,
    /// The credentials file (default as for login).
    #[arg(long, value_name = "PATH")]
    authfile: Option<PathBuf>,
}

pub fn login(args: &LoginArgs) -> anyhow::Result<ExitCode> {
    let key = credentials::login_key(&args.registry)?;
    if args.get_login {
        return match ferry::credentials::find(&key, args.authfile.as_deref())? {
            Some((user, _)) => {
                println!("{user}");
                Ok(ExitCode::SUCCESS)
            }
            None => bail!("not logged into {key}"),
        };
    }
    let Some(username) = args.username.as_deref().filter(|u| !u.is_empty()) else {
        bail!("--username is needed");
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("reading the password from standard input")?;
            // A trailing newline is the terminal's, not the password's.
            text.strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text)
                .to_string()
        }
        (None, false) => bail!("give the password with --password-stdin (or --password)"),
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    verify(&key, username, &password, args)?;
    let path = ferry::credentials::login_file(args.authfile.as_deref());
    let existing = read_existing(&path)?;
    let updated = credentials::store(existing.as_deref(), &key, username, &password)
        .with_context(|| format!("{}", path.display()))?;
    write_private(&path, &updated)?;
    println!("Login Succeeded!");
    Ok(ExitCode::SUCCESS)
}

/// Asks the registry whether it takes the credentials: `GET /v2/`,
/// answering its challenge with them.
fn verify(key: &str, username: &str, password: &str, args: &LoginArgs) -> anyhow::Result<()> {
    // A repository is needed to name a token's scope; any will do, and
    // only pull access is asked for.
    let reference = Named::parse_normalized(&format!("{key}/ferry-login-check:latest"))
        .with_context(|| format!("{key:?} is not a registry"))?;
    let options = RegistryOptions {
        credentials: Some((username.to_string(), password.to_string())),
        tls_verify: args.tls_verify,
        cert_dir: args.cert_dir.clone(),
        retry_times: 1,
        lookaside: Default::default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime
        .block_on(async {
            let registry = Registry::connect(&reference, &options, false).await?;
            registry.authenticate_now().await
        })
        .with_context(|| format!("logging in to {key}"))
}

pub fn logout(args: &LogoutArgs) -> anyhow::Result<ExitCode> {
    let path = ferry::credentials::login_file(args.authfile.as_deref());
    let existing = read_existing(&path)?;
    if args.all {
        if let Some(existing) = existing {
            let updated = credentials::remove_all(&existing)
                .with_context(|| format!("{}", path.display()))?;
            write_private(&path, &updated)?;
        }
        println!("Removed login credentials for all registries");
        return Ok(ExitCode::SUCCESS);
    }
    let registry = args.registry.as_deref().unwrap_or_default();
    let key = credentials::login_key(registry)?;
    let removed = match existing {
        Some(existing) => {
            credentials::remove(&existing, &key).with_context(|| format!("{}", path.display()))?
        }
        None => None,
    };
    match removed {
        Some(updated) => {
            write_private(&path, &updated)?;
            println!("Removed login credentials for {key}");
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("not logged into {key} (in {})", path.display()),
    }
}

fn read_existing(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Replaces the file whole (never half-written), readable by its owner
/// only, creating its directory if needed.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("writing {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
