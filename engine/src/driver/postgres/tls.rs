//! TLS for PostgreSQL through rustls (aws-lc-rs), the binary's one TLS stack: a `ClientConfig`
//! per connection string, with the server-certificate check libpq's `sslmode` asks for.
//!
//! | sslmode | roots | check |
//! |---|---|---|
//! | allow, prefer, require | none | none ([`NotHostName`] without a chain) |
//! | allow, prefer, require, verify-ca | a root file | the chain, not the host name ([`NotHostName`]) |
//! | verify-full | a root file or `system` | the chain and the host name (webpki) |

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::conninfo::{Roots, SslMode, TlsSettings};
use crate::{Error, Result};

fn invalid(message: String) -> Error {
    Error::Invalid(format!("PostgreSQL connection: {message}"))
}

/// The rustls configuration for `settings` (not called for `sslmode=disable`).
pub(crate) fn client_config(settings: &TlsSettings) -> Result<ClientConfig> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS setup: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match &settings.roots {
        Roots::None => Arc::new(NotHostName {
            chain: None,
            algorithms: provider.signature_verification_algorithms,
        }),
        roots => {
            let store = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                .build()
                .map_err(|e| invalid(format!("TLS root certificates: {e}")))?;
            if settings.mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(NotHostName {
                    chain: Some(webpki),
                    algorithms: provider.signature_verification_algorithms,
                })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match &settings.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
                .map_err(|e| {
                    invalid(format!(
                        "cannot read client certificate {} (sslcert): {e}",
                        cert.display()
                    ))
                })?;
            if chain.is_empty() {
                return Err(invalid(format!(
                    "client certificate file {} (sslcert) holds no PEM certificate",
                    cert.display()
                )));
            }
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                invalid(format!(
                    "cannot read private key {} (sslkey; an unencrypted PEM key): {e}",
                    key.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(format!("client certificate: {e}")))
        }
    }
}

fn root_store(roots: &Roots) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::None => {}
        Roots::File(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
                .map_err(|e| {
                    invalid(format!(
                        "cannot read root certificate file {} (sslrootcert): {e}",
                        file.display()
                    ))
                })?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(invalid(format!(
                    "root certificate file {} (sslrootcert) holds no usable PEM certificate",
                    file.display()
                )));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(invalid(
                    "sslrootcert=system: the platform has no trusted root certificates".into(),
                ));
            }
        }
    }
    Ok(store)
}

/// The check for every sslmode short of verify-full. With a root file (`chain`, verify-ca and the
/// weaker modes given one): webpki's verifier, except that a certificate valid for another host
/// name is accepted. webpki checks the chain (trust anchor, validity dates, key usage) before the
/// name, so a name error means everything else passed; every other error stands. Without one
/// (allow, prefer and require in libpq's meaning: encrypted, not authenticated): any certificate
/// is accepted. Either way the handshake signatures are checked, so the session is bound to the
/// certificate's key.
#[derive(Debug)]
struct NotHostName {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NotHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
