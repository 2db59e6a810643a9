//! Reading PEM files: certificate chains, private keys and CA bundles, each read with a
//! size bound and checked to hold what it should.

use std::io::Read;
use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// Largest certificate, key or CA file read. A CA bundle of a few hundred certificates
/// fits; a wrong path pointing at a large file is refused instead of read whole.
pub const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// The bytes of `path`, at most [`MAX_PEM_FILE_BYTES`].
fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let io = |source| TlsError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(TlsError::TooLarge { path: path.to_owned(), limit: MAX_PEM_FILE_BYTES });
    }
    Ok(bytes)
}

fn pem_error(path: &Path, why: impl Into<String>) -> TlsError {
    TlsError::Pem { path: path.to_owned(), why: why.into() }
}

/// Every certificate in `path`, in order (leaf first for a chain); at least one.
pub(super) fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// The first private key in `path` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(super) fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => pem_error(path, "no PRIVATE KEY block found"),
        other => pem_error(path, format!("bad PEM: {other}")),
    })
}

/// The trust anchors in the CA file `path`; at least one must be usable.
pub(super) fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs(path)?);
    if added == 0 {
        let why = format!("none of its {ignored} certificates can be used as a CA");
        return Err(pem_error(path, why));
    }
    Ok(store)
}
