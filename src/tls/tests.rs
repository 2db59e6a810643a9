use std::path::{Path, PathBuf};

use super::client::host_of;
use super::*;

/// A fresh directory with a self-signed certificate (`cert.pem`, `key.pem`) and a second,
/// unrelated key (`other-key.pem`).
fn files() -> PathBuf {
    let dir = crate::testdir::fresh("tls-unit");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text);
    write("cert.pem", cert.cert.pem()).unwrap();
    write("key.pem", cert.signing_key.serialize_pem()).unwrap();
    write("other-key.pem", other.serialize_pem()).unwrap();
    dir
}

fn server(dir: &Path, key: &str, ca: Option<&str>, auth: ClientAuth) -> ServerTlsConfig {
    ServerTlsConfig {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join(key),
        ca_file: ca.map(|c| dir.join(c)),
        auth_clients: auth,
    }
}

fn error_text<T: std::fmt::Debug>(r: Result<T, TlsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn client_auth_takes_redis_words() {
    // (flag value, parsed)
    let cases = [
        ("yes", ClientAuth::Required),
        ("NO", ClientAuth::None),
        ("optional", ClientAuth::Optional),
    ];
    for (word, want) in cases {
        assert_eq!(word.parse::<ClientAuth>(), Ok(want), "{word}");
        assert_eq!(want.to_string(), word.to_ascii_lowercase());
    }
    assert!("maybe".parse::<ClientAuth>().is_err());
    assert_eq!(ClientAuth::default(), ClientAuth::Required, "Redis's default");
}

#[test]
fn host_of_strips_the_port_and_brackets() {
    // (address, host verified against the certificate)
    let cases = [
        ("localhost:7379", "localhost"),
        ("10.0.0.1:1", "10.0.0.1"),
        ("[::1]:7379", "::1"),
        ("::1", "::1"),
        ("cache.example", "cache.example"),
    ];
    for (addr, want) in cases {
        assert_eq!(host_of(addr), want, "{addr}");
    }
}

#[test]
fn a_good_pair_loads_and_a_bad_reload_keeps_it() {
    let dir = files();
    let acceptor = TlsAcceptor::new(server(&dir, "key.pem", None, ClientAuth::None));
    let acceptor = acceptor.unwrap();
    assert!(acceptor.reload().is_ok());
    std::fs::write(dir.join("cert.pem"), "garbage").unwrap();
    let text = error_text(acceptor.reload());
    assert!(text.contains("no CERTIFICATE"), "{text}");
}

#[test]
fn unusable_files_are_explained() {
    let dir = files();
    let big = dir.join("big.pem");
    let len = usize::try_from(MAX_PEM_FILE_BYTES).unwrap_or(usize::MAX) + 1;
    std::fs::write(&big, vec![b'x'; len]).unwrap();
    // (certificate-side mistake, what the error says)
    let cases = [
        (server(&dir, "missing.pem", None, ClientAuth::None), "cannot read"),
        (server(&dir, "cert.pem", None, ClientAuth::None), "no PRIVATE KEY"),
        (server(&dir, "other-key.pem", None, ClientAuth::None), "do not go together"),
        (server(&dir, "key.pem", None, ClientAuth::Required), "--tls-ca-cert-file"),
        (server(&dir, "key.pem", Some("key.pem"), ClientAuth::Optional), "no CERTIFICATE"),
        (server(&dir, "big.pem", None, ClientAuth::None), "larger than"),
    ];
    for (settings, want) in cases {
        let text = error_text(TlsAcceptor::new(settings.clone()));
        assert!(text.contains(want), "{settings:?}: {text}");
    }
}

#[test]
fn client_settings_are_checked() {
    let dir = files();
    let good = ClientTlsConfig::new(dir.join("cert.pem"));
    assert!(TlsConnector::new(good.clone()).is_ok());
    // (settings, what the error says)
    let cases = [
        (
            ClientTlsConfig { cert_file: Some(dir.join("cert.pem")), ..good.clone() },
            "--cert with --key",
        ),
        (
            ClientTlsConfig { server_name: Some("not a name!".into()), ..good.clone() },
            "neither a DNS name",
        ),
        (ClientTlsConfig::new(dir.join("key.pem")), "no CERTIFICATE"),
    ];
    for (settings, want) in cases {
        let text = error_text(TlsConnector::new(settings.clone()));
        assert!(text.contains(want), "{settings:?}: {text}");
    }
}

#[test]
fn tool_flags_need_tls_and_a_ca() {
    let dir = files();
    let ca = Some(dir.join("cert.pem"));
    // (flags, scheme asks for TLS, Ok(uses TLS) or the error's words)
    let cases: [(ClientTlsArgs, bool, Result<bool, &str>); 5] = [
        (ClientTlsArgs::default(), false, Ok(false)),
        (ClientTlsArgs { tls: true, cacert: ca.clone(), ..Default::default() }, false, Ok(true)),
        (ClientTlsArgs { cacert: ca.clone(), ..Default::default() }, true, Ok(true)),
        (ClientTlsArgs { tls: true, ..Default::default() }, false, Err("--cacert")),
        (ClientTlsArgs { cacert: ca, ..Default::default() }, false, Err("need --tls")),
    ];
    for (args, scheme, want) in cases {
        match (args.connector(scheme), want) {
            (Ok(c), Ok(tls)) => assert_eq!(c.is_some(), tls, "{args:?}"),
            (Err(e), Err(words)) => assert!(e.to_string().contains(words), "{args:?}: {e}"),
            (got, want) => panic!("{args:?}: got {got:?}, want {want:?}"),
        }
    }
}
