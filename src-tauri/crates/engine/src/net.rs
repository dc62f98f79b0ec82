//! HTTP for model downloads and inference servers: one agent set-up whose
//! TLS trusts what this computer trusts (the system's certificate store,
//! including an office's own certificate authority and `SSL_CERT_FILE`) as
//! well as the public authorities.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The TLS settings, built once: public roots plus the system's.
fn tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for cert in rustls_native_certs::load_native_certs().certs {
                // A certificate the store cannot use is skipped, not fatal.
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            match config {
                Ok(config) => Arc::new(config),
                // Only a broken crypto build gets here; ureq's own default then.
                Err(_) => Arc::new(
                    rustls::ClientConfig::builder_with_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default TLS versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                ),
            }
        })
        .clone()
}

/// An HTTP agent with these timeouts and the TLS above.
pub fn agent(connect: Duration, read: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(connect)
        .timeout_read(read)
        .tls_config(tls())
        .build()
}
