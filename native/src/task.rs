//! Spawned tasks tied to their owner.

/// A task aborted when dropped, so that it does not outlive the one
/// waiting for it: the HTTP ping of an insecure registry that answered
/// over HTTPS, the authentication begun for a connection that never sent
/// a request, the copy's shortcut question once the copy failed.
#[derive(Debug)]
pub struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
