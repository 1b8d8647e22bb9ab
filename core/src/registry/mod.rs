//! The registry conversation's decisions, as pure functions: which host
//! and manifest a `docker://` reference asks for, what an authentication
//! challenge asks for, how to ask for a token, what a response status
//! means and how long to wait before trying again. The native crate
//! performs the HTTP.

pub mod attachments;
pub mod auth;
pub mod credentials;
pub mod lookaside;
pub mod reference;
pub mod response;
pub mod signatures;
pub mod tags;
