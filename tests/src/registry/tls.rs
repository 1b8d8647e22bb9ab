//! Keys and certificates made fresh for each registry with rcgen: a CA and
//! a server certificate for TLS, and a root and signing certificate for
//! tokens. All keys are ECDSA P-256.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::Error;

/// The names every server certificate is valid for.
pub(crate) const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

fn pki_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |e| Error::Pki {
        what,
        detail: e.to_string(),
    }
}

/// A certificate authority and a server certificate it signed, written to
/// a directory:
///
/// ```text
/// DIR/ca.pem             the CA certificate (PEM)
/// DIR/server.crt         the server certificate (PEM), for 127.0.0.1, localhost and ::1
/// DIR/server.key         its key (PKCS#8 PEM)
/// DIR/cert-dir/ca.crt    the CA again, in the layout of skopeo's --cert-dir
///                        (and /etc/containers/certs.d/HOST/)
/// DIR/daemon-cert-dir/   ca.pem, and cert.pem and key.pem: a client
///                        certificate the CA signed, in the layout of a
///                        Docker daemon's --cert-dir (DOCKER_CERT_PATH)
/// ```
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    ca_pem: String,
}

impl Pki {
    /// Makes a CA and a server certificate and writes them under `dir`.
    pub fn create(dir: &Path) -> Result<Pki, Error> {
        let ca_key = KeyPair::generate().map_err(pki_err("the TLS CA key"))?;
        let ca_params = ca_params("ferry test registry CA")?;
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(pki_err("the TLS CA certificate"))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(pki_err("the TLS server key"))?;
        let mut params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())
            .map_err(pki_err("the TLS server certificate"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ferry test registry");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .map_err(pki_err("the TLS server certificate"))?;

        let client_key = KeyPair::generate().map_err(pki_err("the TLS client key"))?;
        let mut params =
            CertificateParams::new(Vec::new()).map_err(pki_err("the TLS client certificate"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ferry test client");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = params
            .signed_by(&client_key, &issuer)
            .map_err(pki_err("the TLS client certificate"))?;

        let pki = Pki {
            dir: dir.to_path_buf(),
            ca_pem: ca_cert.pem(),
        };
        let daemon_cert_dir = pki.daemon_cert_dir();
        std::fs::create_dir_all(&daemon_cert_dir)
            .map_err(Error::io(format!("creating {}", daemon_cert_dir.display())))?;
        write(&daemon_cert_dir.join("ca.pem"), pki.ca_pem.as_bytes())?;
        write(
            &daemon_cert_dir.join("cert.pem"),
            client_cert.pem().as_bytes(),
        )?;
        write(
            &daemon_cert_dir.join("key.pem"),
            client_key.serialize_pem().as_bytes(),
        )?;
        let cert_dir = pki.cert_dir();
        std::fs::create_dir_all(&cert_dir)
            .map_err(Error::io(format!("creating {}", cert_dir.display())))?;
        write(&pki.ca_path(), pki.ca_pem.as_bytes())?;
        write(&cert_dir.join("ca.crt"), pki.ca_pem.as_bytes())?;
        write(&pki.server_cert_path(), server_cert.pem().as_bytes())?;
        write(
            &pki.server_key_path(),
            server_key.serialize_pem().as_bytes(),
        )?;
        Ok(pki)
    }

    /// The CA certificate, PEM: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file holding [`ca_pem`](Self::ca_pem).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A directory holding only `ca.crt`: skopeo's `--cert-dir` layout.
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("cert-dir")
    }

    /// `ca.pem`, `cert.pem` and `key.pem` (a client certificate): the
    /// layout of a Docker daemon's `--cert-dir`.
    pub fn daemon_cert_dir(&self) -> PathBuf {
        self.dir.join("daemon-cert-dir")
    }

    /// The server's certificate (PEM).
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The server's private key (PKCS#8 PEM).
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

fn ca_params(name: &str) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::new()).map_err(pki_err("a CA certificate"))?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(Error::io(format!("writing {}", path.display())))
}

/// What a token issuer signs with: its key and the chain that proves it.
#[derive(Debug)]
pub(crate) struct TokenChain {
    /// The root certificate, PEM: the registry's `rootcertbundle`.
    pub root_pem: String,
    /// The signing certificate then the root, DER: the JWT's `x5c`.
    pub chain_der: Vec<Vec<u8>>,
    /// The signing key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
}

/// A root certificate and a signing certificate under it for tokens.
pub(crate) fn token_chain() -> Result<TokenChain, Error> {
    let root_key = KeyPair::generate().map_err(pki_err("the token root key"))?;
    let root_params = ca_params("ferry test token root")?;
    let root_cert = root_params
        .self_signed(&root_key)
        .map_err(pki_err("the token root certificate"))?;
    let issuer = Issuer::new(root_params, root_key);

    let key = KeyPair::generate().map_err(pki_err("the token signing key"))?;
    let mut params =
        CertificateParams::new(Vec::new()).map_err(pki_err("the token signing certificate"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "ferry test token signer");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(pki_err("the token signing certificate"))?;
    Ok(TokenChain {
        root_pem: root_cert.pem(),
        chain_der: vec![cert.der().to_vec(), root_cert.der().to_vec()],
        key_pkcs8: key.serialize_der(),
    })
}
