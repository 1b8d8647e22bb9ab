//! A containers/storage store on disk: where it is (the reference's store
//! over `storage.conf`, [`ferry_core::storage::config`]), its lock files,
//! and its records read and written as containers/storage does.
//!
//! Locks are containers/storage's `pkg/lockfile`: a POSIX record lock
//! (`fcntl(F_SETLKW)`) over the whole lock file, exclusive to write,
//! shared to read; a writer, before it lets go, writes a new 64-byte
//! "last writer" value at the file's start, which tells other processes
//! holding the store in memory to read it again. `layers.json` and
//! `images.json` are replaced atomically (written beside, renamed), under
//! their lock. POSIX record locks belong to the process, and closing any
//! descriptor of the file drops them: one process must not open a lock
//! file twice, so every lock here is taken on a blocking thread for the
//! span of one change.

use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ferry_core::reference::storage::StoreSpec;
use ferry_core::storage::config::{self, Environment, StorageConf};
use ferry_core::storage::records;
use serde_json::Value;

use crate::transport::{TransportError, io_error};

/// Where a store is and which driver it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub graph_root: PathBuf,
    pub run_root: PathBuf,
    pub driver: String,
    pub options: Vec<String>,
}

/// The process's environment, as containers/storage reads it.
pub fn environment() -> Environment {
    let var = |name: &str| std::env::var(name).ok();
    Environment {
        uid: rustix::process::geteuid().as_raw(),
        storage_conf: var("CONTAINERS_STORAGE_CONF"),
        xdg_config_home: var("XDG_CONFIG_HOME"),
        xdg_data_home: var("XDG_DATA_HOME"),
        xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
        home: var("HOME"),
        storage_driver: var("STORAGE_DRIVER"),
    }
}

fn read_conf(path: &str) -> Result<Option<StorageConf>, TransportError> {
    match std::fs::read_to_string(path) {
        Ok(text) => StorageConf::parse(&text)
            .map(Some)
            .map_err(|e| TransportError::Malformed {
                location: path.to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, "read")(e)),
    }
}

impl Store {
    /// The store a reference's `[…]` part (if any) means, with
    /// `storage.conf` filling in the rest.
    pub fn resolve(spec: Option<&StoreSpec>) -> Result<Store, TransportError> {
        let env = environment();
        let files = env.config_files();
        let user = match &files.user {
            Some(path) => read_conf(path)?,
            None => None,
        };
        let mut system = None;
        for path in &files.system {
            if let Some(conf) = read_conf(path)? {
                system = Some(conf);
                break;
            }
        }
        let options = config::resolve(&env, spec, user.as_ref(), system.as_ref());
        let graph_root = PathBuf::from(&options.graph_root);
        let driver = match options.driver {
            Some(d) => d,
            None => {
                let present: Vec<String> =
                    ["overlay", "btrfs", "zfs", "vfs", "aufs", "devicemapper"]
                        .iter()
                        .filter(|d| graph_root.join(d).is_dir())
                        .map(|d| d.to_string())
                        .collect();
                let present: Vec<&str> = present.iter().map(String::as_str).collect();
                config::choose_driver(&present)
            }
        };
        Ok(Store {
            graph_root,
            run_root: PathBuf::from(options.run_root),
            driver,
            options: options.options,
        })
    }

    /// `[driver@graphroot+runroot]`, for messages.
    pub fn spec(&self) -> String {
        format!(
            "[{}@{}+{}]",
            self.driver,
            self.graph_root.display(),
            self.run_root.display()
        )
    }

    pub fn layers_dir(&self) -> PathBuf {
        self.graph_root.join(format!("{}-layers", self.driver))
    }

    pub fn images_dir(&self) -> PathBuf {
        self.graph_root.join(format!("{}-images", self.driver))
    }

    /// Whether the driver is overlay (else vfs).
    pub fn is_overlay(&self) -> bool {
        self.driver == "overlay"
    }

    /// The overlay driver's home, `GRAPHROOT/overlay`.
    pub fn overlay_home(&self) -> PathBuf {
        self.graph_root.join("overlay")
    }

    /// A layer's files: the whole tree for vfs (`vfs/dir/ID`), the
    /// layer's own `overlay/ID/diff` for overlay.
    pub fn layer_tree(&self, id: &str) -> PathBuf {
        if self.is_overlay() {
            self.overlay_home().join(id).join("diff")
        } else {
            self.graph_root.join("vfs").join("dir").join(id)
        }
    }

    /// What a layer's removal takes away besides its record and
    /// tar-split: the vfs tree, or the overlay directory and its short
    /// link.
    pub fn remove_layer_files(&self, id: &str) -> Result<(), TransportError> {
        let remove = |path: &Path| match std::fs::remove_dir_all(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(path, "remove")(e)),
        };
        if !self.is_overlay() {
            return remove(&self.layer_tree(id));
        }
        let dir = self.overlay_home().join(id);
        if let Ok(link) = std::fs::read_to_string(dir.join("link")) {
            let _ = std::fs::remove_file(self.overlay_home().join("l").join(link.trim()));
        }
        remove(&dir)
    }

    pub fn tar_split(&self, id: &str) -> PathBuf {
        self.layers_dir()
            .join(format!("{id}{}", ferry_core::storage::TAR_SPLIT_SUFFIX))
    }

    /// Where an image's big data item `key` is kept.
    pub fn big_data(&self, image: &str, key: &str) -> PathBuf {
        self.images_dir()
            .join(image)
            .join(ferry_core::storage::big_data_file_name(key))
    }

    /// The directory ferry stages in: on the store's file system, so a
    /// finished layer tree is renamed into place.
    pub fn staging_base(&self) -> PathBuf {
        self.graph_root.join("tmp")
    }

    /// Creates the store's directories, as containers/storage does on
    /// first use (0700).
    pub fn create_dirs(&self) -> Result<(), TransportError> {
        for dir in [
            self.graph_root.clone(),
            self.layers_dir(),
            self.images_dir(),
            if self.is_overlay() {
                self.overlay_home()
            } else {
                self.graph_root.join("vfs").join("dir")
            },
            self.staging_base(),
            self.run_root.clone(),
            self.run_root.join(format!("{}-layers", self.driver)),
        ] {
            create_private_dir(&dir)?;
        }
        if self.is_overlay() {
            // `l/` is 0755, as the overlay driver makes it.
            use std::os::unix::fs::DirBuilderExt;
            let links = self.overlay_home().join("l");
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&links)
                .map_err(io_error(&links, "create directory"))?;
        }
        Ok(())
    }

    pub fn layers_json(&self) -> PathBuf {
        self.layers_dir().join("layers.json")
    }

    pub fn images_json(&self) -> PathBuf {
        self.images_dir().join("images.json")
    }

    pub fn layers_lock(&self) -> PathBuf {
        self.layers_dir().join("layers.lock")
    }

    pub fn images_lock(&self) -> PathBuf {
        self.images_dir().join("images.lock")
    }
}

/// Creates a directory and its missing parents, 0700 as containers/storage
/// makes its own.
pub fn create_private_dir(dir: &Path) -> Result<(), TransportError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir, "create directory"))
}

/// Reads `layers.json` or `images.json` (no file: no records).
pub fn read_records(path: &Path) -> Result<Vec<Value>, TransportError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(path, "read")(e)),
    };
    records::parse_list(&bytes).map_err(|e| TransportError::Malformed {
        location: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Replaces a records file atomically (0600, as containers/storage writes
/// them).
pub fn write_records(path: &Path, records: &[Value]) -> Result<(), TransportError> {
    let bytes = serde_json::to_vec(records).map_err(|e| TransportError::Internal {
        location: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_file_atomic(path, &bytes)
}

/// Writes `bytes` beside `path` and renames the file into place.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), TransportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-ferry-")
        .tempfile_in(dir)
        .map_err(io_error(dir, "create a temporary file in"))?;
    temp.write_all(bytes)
        .and_then(|_| temp.as_file().sync_data())
        .map_err(io_error(temp.path().to_path_buf(), "write"))?;
    temp.persist(path)
        .map_err(|e| io_error(path, "rename into place")(e.error))?;
    Ok(())
}

/// A held containers/storage lock; dropping it lets go.
#[derive(Debug)]
pub struct Lock {
    file: std::fs::File,
    path: PathBuf,
}

static LAST_WRITER_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Lock {
    /// Waits for the lock on `path` (created if missing): exclusive for a
    /// writer, shared for a reader. Blocking.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<Lock, TransportError> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io_error(path, "open lock file"))?;
        let operation = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        loop {
            match rustix::fs::fcntl_lock(&file, operation) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(io_error(path, "lock")(e.into())),
            }
        }
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Records a change: a new last-writer value (time, counter, process
    /// ID, random bytes; 64 bytes), as containers/storage's `Touch`.
    pub fn touch(&self) -> Result<(), TransportError> {
        let mut value = [0u8; 64];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        value[0..8].copy_from_slice(&now.to_le_bytes());
        let counter = LAST_WRITER_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
        value[8..16].copy_from_slice(&counter.to_le_bytes());
        value[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        getrandom::fill(&mut value[20..]).map_err(|e| TransportError::Internal {
            location: self.path.display().to_string(),
            reason: format!("no random bytes: {e}"),
        })?;
        self.file
            .write_all_at(&value, 0)
            .map_err(io_error(&self.path, "write lock file"))
    }
}
