//! Throwaway certificates for the TLS tests, generated with rcgen into a fresh temp
//! directory on every run (no key is ever committed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use shale::tls::ClientTlsConfig;

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate as generated (the file may be replaced later).
    der: Vec<u8>,
}

impl Leaf {
    pub fn cert_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.der.clone())
    }
}

/// A test CA in its own directory, and the leaves it signs.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA certificate (PEM): what clients and servers trust.
    pub ca: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let dir = crate::common::temp_dir();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca, cert.pem()).unwrap();
        Self { dir, ca, issuer: Issuer::new(params, key) }
    }

    /// A certificate for `names` (DNS names or IP addresses), valid now.
    pub fn leaf(&self, file: &str, names: &[&str]) -> Leaf {
        self.leaf_with(file, names, |_| {})
    }

    /// The server certificate every test uses: valid for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Leaf {
        self.leaf("server", &["localhost", "127.0.0.1"])
    }

    /// A client certificate.
    pub fn client(&self) -> Leaf {
        self.leaf("client", &["client.test"])
    }

    /// A certificate that expired long ago.
    pub fn expired(&self, file: &str, names: &[&str]) -> Leaf {
        self.leaf_with(file, names, |p| {
            p.not_before = date_time_ymd(2000, 1, 1);
            p.not_after = date_time_ymd(2001, 1, 1);
        })
    }

    fn leaf_with(
        &self,
        file: &str,
        names: &[&str],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0].clone());
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let leaf = Leaf {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}-key.pem")),
            der: cert.der().to_vec(),
        };
        write_atomically(&leaf.cert, &cert.pem());
        write_atomically(&leaf.key, &key.serialize_pem());
        leaf
    }

    /// Client settings trusting this CA.
    pub fn client_settings(&self) -> ClientTlsConfig {
        ClientTlsConfig::new(&self.ca)
    }

    /// A raw rustls client configuration trusting this CA, optionally presenting `cert`
    /// (what redis-cli --tls does).
    pub fn rustls_client(&self, cert: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match cert {
            None => builder.with_no_client_auth(),
            Some(leaf) => {
                let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
                builder.with_client_auth_cert(vec![leaf.cert_der()], key).unwrap()
            }
        };
        Arc::new(config)
    }
}

/// Replaces `path` by a rename, as a certificate manager would, so a reader never sees a
/// half-written file.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
