//! `storage.conf`: which store `containers-storage:` means when the
//! reference names none, as containers/storage 1.43 decides
//! (`types/options.go`, `types/utils.go`).
//!
//! - As root: the file is `$CONTAINERS_STORAGE_CONF` if set; otherwise
//!   the first of `$XDG_CONFIG_HOME/containers/storage.conf`,
//!   `/etc/containers/storage.conf`, `/usr/share/containers/storage.conf`
//!   that exists. Graph root and run root default to
//!   `/var/lib/containers/storage` and `/run/containers/storage`.
//! - Rootless: the user's file (`$CONTAINERS_STORAGE_CONF`, else
//!   `$XDG_CONFIG_HOME` or `~/.config` + `/containers/storage.conf`) wins
//!   if it exists, its missing roots filled with the rootless defaults;
//!   otherwise the system file gives the driver (when rootless-capable)
//!   and `rootless_storage_path`, and the roots are
//!   `$XDG_DATA_HOME|~/.local/share/containers/storage` and
//!   `$XDG_RUNTIME_DIR|/run/user/UID/containers`.
//!
//! `$UID` in a path is the user's ID, as containers/storage expands it.
//! The reader knows the TOML that storage.conf files use: tables, and
//! `key = "string"` (basic or literal); other values are skipped.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::super::reference::storage::StoreSpec;

/// The defaults of a store run as root.
pub const DEFAULT_GRAPH_ROOT: &str = "/var/lib/containers/storage";
pub const DEFAULT_RUN_ROOT: &str = "/run/containers/storage";
/// The system files, in the order they are tried.
pub const SYSTEM_CONFIG_FILES: [&str; 2] = [
    "/etc/containers/storage.conf",
    "/usr/share/containers/storage.conf",
];

/// What the process's environment says, for choosing files and roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub uid: u32,
    pub storage_conf: Option<String>,
    pub xdg_config_home: Option<String>,
    pub xdg_data_home: Option<String>,
    pub xdg_runtime_dir: Option<String>,
    pub home: Option<String>,
    /// `STORAGE_DRIVER`, which overrides the driver of a rootless store.
    pub storage_driver: Option<String>,
}

impl Environment {
    fn rootless(&self) -> bool {
        self.uid != 0
    }

    /// The files that may configure the store: the user's (rootless
    /// only; used when it exists) and the system's, first existing wins.
    pub fn config_files(&self) -> ConfigFiles {
        let xdg = self
            .xdg_config_home
            .as_ref()
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}/containers/storage.conf"));
        if let Some(path) = &self.storage_conf {
            return ConfigFiles {
                user: self.rootless().then(|| path.clone()),
                system: alloc::vec![path.clone()],
            };
        }
        let mut system: Vec<String> = xdg.iter().cloned().collect();
        system.extend(SYSTEM_CONFIG_FILES.iter().map(|f| f.to_string()));
        let user = if self.rootless() {
            xdg.or_else(|| {
                self.home
                    .as_ref()
                    .map(|h| format!("{h}/.config/containers/storage.conf"))
            })
        } else {
            None
        };
        ConfigFiles { user, system }
    }

    fn expand(&self, path: &str) -> String {
        path.replace("$UID", &self.uid.to_string())
    }
}

/// Which files to read: [`Environment::config_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    pub user: Option<String>,
    pub system: Vec<String>,
}

/// The `[storage]` table of a storage.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConf {
    pub driver: Option<String>,
    pub graph_root: Option<String>,
    pub run_root: Option<String>,
    pub rootless_storage_path: Option<String>,
    /// `[storage.options.DRIVER] key = "v"` as `DRIVER.key=v`, the
    /// form graph drivers read their options in.
    pub options: Vec<String>,
}

/// A storage.conf line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub line: usize,
    pub reason: &'static str,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl StorageConf {
    /// Reads the keys containers/storage takes from a storage.conf.
    pub fn parse(text: &str) -> Result<Self, ConfError> {
        let mut conf = StorageConf::default();
        let mut table = String::new();
        // Inside a multi-line array value, which no key we read has.
        let mut in_array = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if in_array {
                in_array = !line.split('#').next().unwrap_or_default().contains(']');
                continue;
            }
            let error = |reason| ConfError {
                line: n + 1,
                reason,
            };
            if let Some(header) = line.strip_prefix('[') {
                let header = header.split('#').next().unwrap_or_default().trim_end();
                let name = header
                    .strip_suffix(']')
                    .ok_or(error("table header without ']'"))?;
                table = name.trim_matches(['[', ']']).trim().to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(error("expected key = value"));
            };
            let key = key.trim().trim_matches('"');
            let value_text = value.split('#').next().unwrap_or_default().trim();
            if value_text.starts_with('[') && !value_text.contains(']') {
                in_array = true;
                continue;
            }
            let Some(value) = string_value(value.trim()).transpose().map_err(error)? else {
                continue;
            };
            match (table.as_str(), key) {
                ("storage", "driver") => conf.driver = Some(value).filter(|v| !v.is_empty()),
                ("storage", "graphroot") => conf.graph_root = Some(value).filter(|v| !v.is_empty()),
                ("storage", "runroot") => conf.run_root = Some(value).filter(|v| !v.is_empty()),
                ("storage", "rootless_storage_path") => {
                    conf.rootless_storage_path = Some(value).filter(|v| !v.is_empty())
                }
                (t, k) => {
                    if let Some(driver) = t.strip_prefix("storage.options.") {
                        conf.options.push(format!("{driver}.{k}={value}"));
                    }
                }
            }
        }
        Ok(conf)
    }
}

/// A TOML string value (`"basic"` with escapes, or `'literal'`), `None`
/// for values of other types, which storage.conf's keys we read never are.
fn string_value(value: &str) -> Option<Result<String, &'static str>> {
    if let Some(rest) = value.strip_prefix('\'') {
        return Some(
            rest.split_once('\'')
                .map(|(s, _)| s.to_string())
                .ok_or("unterminated string"),
        );
    }
    let rest = value.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next() {
            None => return Some(Err("unterminated string")),
            Some('"') => return Some(Ok(out)),
            Some('\\') => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('/') => out.push('/'),
                _ => return Some(Err("unsupported escape in string")),
            },
            Some(c) => out.push(c),
        }
    }
}

/// Where the store is and which driver it uses; `driver` `None` when
/// neither the reference nor the configuration names one, for the store's
/// own contents to decide ([`choose_driver`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    pub driver: Option<String>,
    pub graph_root: String,
    pub run_root: String,
    pub options: Vec<String>,
}

/// The store a reference means: its `[…]` part over the configuration
/// `user` (the user's file, rootless only, if it exists) or `system`
/// (the first system file that exists), over the defaults.
pub fn resolve(
    env: &Environment,
    spec: Option<&StoreSpec>,
    user: Option<&StorageConf>,
    system: Option<&StorageConf>,
) -> StoreOptions {
    let empty = StorageConf::default();
    let mut options = if !env.rootless() {
        let conf = system.unwrap_or(&empty);
        StoreOptions {
            driver: conf.driver.clone(),
            graph_root: conf
                .graph_root
                .clone()
                .unwrap_or_else(|| DEFAULT_GRAPH_ROOT.into()),
            run_root: conf
                .run_root
                .clone()
                .unwrap_or_else(|| DEFAULT_RUN_ROOT.into()),
            options: conf.options.clone(),
        }
    } else {
        let system = system.unwrap_or(&empty);
        let data = env
            .xdg_data_home
            .clone()
            .filter(|d| !d.is_empty())
            .or_else(|| env.home.as_ref().map(|h| format!("{h}/.local/share")))
            .unwrap_or_default();
        let runtime = env
            .xdg_runtime_dir
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("/run/user/{}", env.uid));
        let rootless_graph = system
            .rootless_storage_path
            .clone()
            .unwrap_or_else(|| format!("{data}/containers/storage"));
        let rootless_run = format!("{runtime}/containers");
        let rootless_driver = system
            .driver
            .clone()
            .filter(|d| matches!(d.as_str(), "btrfs" | "overlay" | "overlay2" | "vfs"));
        let mut options = match user {
            Some(conf) => StoreOptions {
                driver: conf.driver.clone(),
                graph_root: conf
                    .graph_root
                    .clone()
                    .or_else(|| conf.rootless_storage_path.clone())
                    .unwrap_or(rootless_graph),
                run_root: conf.run_root.clone().unwrap_or(rootless_run),
                options: conf.options.clone(),
            },
            None => StoreOptions {
                driver: rootless_driver,
                graph_root: rootless_graph,
                run_root: rootless_run,
                options: Vec::new(),
            },
        };
        if let Some(driver) = env.storage_driver.clone().filter(|d| !d.is_empty()) {
            options.driver = Some(driver);
        }
        options
    };
    if options.driver.as_deref() == Some("overlay2") {
        options.driver = Some("overlay".into());
    }
    options.graph_root = env.expand(&options.graph_root);
    options.run_root = env.expand(&options.run_root);
    if let Some(spec) = spec {
        if let Some(driver) = &spec.driver {
            options.driver = Some(driver.clone());
        }
        if let Some(root) = &spec.graph_root {
            options.graph_root = root.clone();
        }
        if let Some(root) = &spec.run_root {
            options.run_root = root.clone();
        }
        if !spec.options.is_empty() {
            options.options = spec.options.clone();
        }
    }
    options
}

/// The driver of a store whose configuration names none, as
/// containers/storage chooses: the one driver whose directory the graph
/// root already has (`<root>/<driver>`), else the first of its priority
/// list, `overlay`. `present` are the driver directories found.
pub fn choose_driver(present: &[&str]) -> String {
    const PRIORITY: [&str; 6] = ["overlay", "btrfs", "zfs", "vfs", "aufs", "devicemapper"];
    let prior: Vec<&str> = PRIORITY
        .iter()
        .copied()
        .filter(|d| present.contains(d))
        .collect();
    match prior.as_slice() {
        [one] => one.to_string(),
        _ => PRIORITY[0].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_LIKE: &str = r#"
# comment
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
# rootless_storage_path = "$HOME/.local/share/containers/storage"

[storage.options]
additionalimagestores = [
]

[storage.options.overlay]
mountopt = "nodev,metacopy=on"
"#;

    fn root() -> Environment {
        Environment::default()
    }

    fn user() -> Environment {
        Environment {
            uid: 1000,
            home: Some("/home/u".into()),
            ..Environment::default()
        }
    }

    #[test]
    fn storage_conf_gives_driver_roots_and_driver_options() {
        let conf = StorageConf::parse(DEBIAN_LIKE).unwrap();
        assert_eq!(conf.driver.as_deref(), Some("overlay"));
        assert_eq!(conf.graph_root.as_deref(), Some(DEFAULT_GRAPH_ROOT));
        assert_eq!(conf.run_root.as_deref(), Some(DEFAULT_RUN_ROOT));
        assert_eq!(conf.rootless_storage_path, None);
        assert_eq!(conf.options, ["overlay.mountopt=nodev,metacopy=on"]);
    }

    #[test]
    fn a_broken_storage_conf_names_its_line() {
        assert_eq!(
            StorageConf::parse("[storage]\ndriver = \"vfs")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(StorageConf::parse("[storage\n").unwrap_err().line, 1);
    }

    #[test]
    fn the_environment_variable_names_the_only_file() {
        let env = Environment {
            storage_conf: Some("/x.conf".into()),
            xdg_config_home: Some("/cfg".into()),
            ..root()
        };
        assert_eq!(env.config_files().system, ["/x.conf"]);
        assert_eq!(env.config_files().user, None);
    }

    #[test]
    fn root_tries_xdg_then_etc_then_usr_share() {
        let env = Environment {
            xdg_config_home: Some("/cfg".into()),
            ..root()
        };
        assert_eq!(
            env.config_files().system,
            [
                "/cfg/containers/storage.conf",
                "/etc/containers/storage.conf",
                "/usr/share/containers/storage.conf"
            ]
        );
        assert_eq!(root().config_files().system, SYSTEM_CONFIG_FILES);
    }

    #[test]
    fn root_defaults_to_var_lib_and_run() {
        let options = resolve(&root(), None, None, None);
        assert_eq!(
            (options.graph_root.as_str(), options.run_root.as_str()),
            (DEFAULT_GRAPH_ROOT, DEFAULT_RUN_ROOT)
        );
        assert_eq!(options.driver, None);
    }

    #[test]
    fn the_reference_store_overrides_the_configuration() {
        let conf = StorageConf::parse(DEBIAN_LIKE).unwrap();
        let spec = StoreSpec {
            driver: Some("vfs".into()),
            graph_root: Some("/g".into()),
            run_root: None,
            options: Vec::new(),
        };
        let options = resolve(&root(), Some(&spec), None, Some(&conf));
        assert_eq!(options.driver.as_deref(), Some("vfs"));
        assert_eq!(options.graph_root, "/g");
        assert_eq!(options.run_root, DEFAULT_RUN_ROOT);
    }

    #[test]
    fn rootless_stores_live_in_the_users_directories() {
        let conf = StorageConf::parse(DEBIAN_LIKE).unwrap();
        let options = resolve(&user(), None, None, Some(&conf));
        assert_eq!(
            options.graph_root,
            "/home/u/.local/share/containers/storage"
        );
        assert_eq!(options.run_root, "/run/user/1000/containers");
        assert_eq!(options.driver.as_deref(), Some("overlay"));
        assert_eq!(
            user().config_files().user.as_deref(),
            Some("/home/u/.config/containers/storage.conf")
        );
    }

    #[test]
    fn a_rootless_users_file_wins_and_uid_is_expanded() {
        let mine =
            StorageConf::parse("[storage]\ndriver = 'vfs'\ngraphroot = \"/data/$UID/storage\"\n")
                .unwrap();
        let system = StorageConf::parse(DEBIAN_LIKE).unwrap();
        let env = Environment {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            ..user()
        };
        let options = resolve(&env, None, Some(&mine), Some(&system));
        assert_eq!(options.driver.as_deref(), Some("vfs"));
        assert_eq!(options.graph_root, "/data/1000/storage");
        assert_eq!(options.run_root, "/run/user/1000/containers");
    }

    #[test]
    fn an_unconfigured_driver_is_the_stores_own_or_overlay() {
        assert_eq!(choose_driver(&["vfs"]), "vfs");
        assert_eq!(choose_driver(&[]), "overlay");
        assert_eq!(choose_driver(&["vfs", "overlay"]), "overlay");
    }
}
