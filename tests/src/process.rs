//! A server process under a watchdog shell, for the harnesses that start
//! real peers (`docker-registry`, `podman system service`).
//!
//! The shell starts the program, prints its pid, and waits for it; a
//! background job of the shell kills it when the shell's stdin (our pipe)
//! reaches end of file, or after a lifetime at the latest. So the program
//! dies with the test process even when that is killed outright, or when
//! the [`Watched`] lives in a `static` and is never dropped. The shell
//! then removes the directory it was given, if any, and exits.

use std::ffi::OsStr;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A program running under the watchdog.
#[derive(Debug)]
pub(crate) struct Watched {
    shell: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
}

/// Why the program did not start.
#[derive(Debug)]
pub(crate) enum SpawnError {
    /// The shell could not be started or waited for.
    Io(std::io::Error),
    /// The program exited at once, with this status.
    Exited(ExitStatus),
}

const WATCHDOG: &str = r#"
exec 3<&0
log="$1"; lifetime="$2"; remove="$3"; shift 3
"$@" </dev/null >>"$log" 2>&1 3<&- &
pid=$!
echo "$pid"
( timeout "$lifetime" cat <&3 >/dev/null 2>&1; kill "$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
exec 3<&-
wait "$pid"
status=$?
if [ -n "$remove" ]; then rm -rf "$remove"; fi
exit "$status"
"#;

impl Watched {
    /// Starts `argv` with its output appended to `log`, killed after
    /// `lifetime` at the latest; once it has ended, the shell removes
    /// `remove` (a directory the program owned), if given.
    pub(crate) fn spawn<S: AsRef<OsStr>>(
        argv: &[S],
        log: &Path,
        lifetime: Duration,
        remove: Option<&Path>,
    ) -> Result<Watched, SpawnError> {
        let mut shell = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("ferry-test-watchdog")
            .arg(log)
            .arg(lifetime.as_secs().to_string())
            .arg(remove.map(Path::as_os_str).unwrap_or_default())
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(SpawnError::Io)?;
        let stdin = shell.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = shell.stdout.take() {
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        }
        let pid = line.trim().parse().unwrap_or(0);
        let mut process = Watched { shell, stdin, pid };
        if pid == 0 {
            return Err(process
                .shell
                .wait()
                .map_or_else(SpawnError::Io, SpawnError::Exited));
        }
        Ok(process)
    }

    /// The program's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The program's exit status, once the shell has seen it end.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.shell.try_wait().ok().flatten()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // End of file on the watchdog's stdin: it sends SIGTERM.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        // The shell is the program's parent: let it reap the program and
        // end, or the program stays a zombie (where PID 1 reaps nothing,
        // for good) and its /proc entry with it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}
