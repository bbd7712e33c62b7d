//! A software device key: an ECDSA P-256 key made with ring and kept as PKCS#8 in the data
//! directory. It answers the app's `DeviceKey` effect for shells that have no hardware key
//! store — the terminal wallet and the JVM tests — so that they need not implement signing.
//!
//! Phones must not use it: there the key lives in the Secure Enclave / Android Keystore and
//! never leaves it, and the shell answers through `WalletShell::use_device_key`. This key is
//! only as private as the data directory it sits in.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use chiiki_core::app::{DeviceKeyRequest, DeviceKeyResponse};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
};

/// The key's file name inside the data directory.
pub const FILE_NAME: &str = "device-key.p256.pk8";

pub struct SoftwareDeviceKey {
    path: PathBuf,
    rng: SystemRandom,
    /// Loaded (or created) on first use, so that a wallet that never signs in never writes a key.
    pair: Mutex<Option<EcdsaKeyPair>>,
}

#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("cannot read or write the key file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the key file does not hold a P-256 PKCS#8 key: {0}")]
    Rejected(String),
    #[error("the system random generator failed")]
    Random,
}

impl SoftwareDeviceKey {
    pub fn in_dir(data_dir: &Path) -> Self {
        SoftwareDeviceKey {
            path: data_dir.join(FILE_NAME),
            rng: SystemRandom::new(),
            pair: Mutex::new(None),
        }
    }

    /// Answer a device-key request the way a phone's key store would: SEC1 public key, or an
    /// ASN.1 DER signature over SHA-256 of the message.
    pub fn answer(&self, request: &DeviceKeyRequest) -> DeviceKeyResponse {
        match self.try_answer(request) {
            Ok(response) => response,
            Err(error) => DeviceKeyResponse::Unavailable {
                reason: error.to_string(),
            },
        }
    }

    fn try_answer(&self, request: &DeviceKeyRequest) -> Result<DeviceKeyResponse, KeyError> {
        // Loading is idempotent, so a lock poisoned by a panic elsewhere is still usable.
        let mut pair = self
            .pair
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pair.is_none() {
            *pair = Some(self.load_or_create()?);
        }
        let Some(pair) = pair.as_ref() else {
            return Err(KeyError::Random);
        };
        Ok(match request {
            DeviceKeyRequest::PublicKey => DeviceKeyResponse::PublicKey {
                sec1: pair.public_key().as_ref().to_vec(),
            },
            DeviceKeyRequest::Sign { message } => DeviceKeyResponse::Signature {
                bytes: pair
                    .sign(&self.rng, message)
                    .map_err(|_| KeyError::Random)?
                    .as_ref()
                    .to_vec(),
            },
        })
    }

    fn load_or_create(&self) -> Result<EcdsaKeyPair, KeyError> {
        let pkcs8 = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => self.create()?,
            Err(error) => return Err(error.into()),
        };
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &self.rng)
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    /// Make a new key and write it next to its final place first, then rename: a crash never
    /// leaves half a key behind (which would lock the resident out of their device's session).
    fn create(&self) -> Result<Vec<u8>, KeyError> {
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| KeyError::Random)?;
        let partial = self.path.with_extension("partial");
        let mut file = private_file(&partial)?;
        file.write_all(document.as_ref())?;
        file.sync_all()?;
        fs::rename(&partial, &self.path)?;
        Ok(document.as_ref().to_vec())
    }
}

/// A new file that only this user may read.
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use chiiki_core::qr::{ResidentToken, decode_resident_code};

    use super::*;

    fn public_key(key: &SoftwareDeviceKey) -> Vec<u8> {
        match key.answer(&DeviceKeyRequest::PublicKey) {
            DeviceKeyResponse::PublicKey { sec1 } => sec1,
            other => panic!("expected a public key, got {other:?}"),
        }
    }

    #[test]
    fn the_key_is_made_once_and_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = public_key(&SoftwareDeviceKey::in_dir(dir.path()));
        assert_eq!(first.len(), 65);
        assert_eq!(first[0], 0x04, "SEC1 uncompressed point");
        let again = public_key(&SoftwareDeviceKey::in_dir(dir.path()));
        assert_eq!(first, again, "a restart keeps the same device key");
    }

    #[test]
    fn a_resident_code_signed_with_it_verifies_with_its_public_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SoftwareDeviceKey::in_dir(dir.path());
        let sec1 = public_key(&key);
        let token = ResidentToken {
            device_id: 31,
            issued_at: 1_736_478_000,
            validity_secs: 60,
            nonce: [7; 16],
        };
        let DeviceKeyResponse::Signature { bytes } = key.answer(&DeviceKeyRequest::Sign {
            message: token.signing_bytes(),
        }) else {
            panic!("expected a signature");
        };
        let payload = token.encode(&bytes).expect("encodes");
        let decoded = decode_resident_code(&payload).expect("decodes");
        assert_eq!(decoded.verify(&sec1), Ok(()));
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(FILE_NAME), b"not a key").expect("write");
        let answer = SoftwareDeviceKey::in_dir(dir.path()).answer(&DeviceKeyRequest::PublicKey);
        assert!(
            matches!(answer, DeviceKeyResponse::Unavailable { .. }),
            "{answer:?}"
        );
        assert_eq!(
            fs::read(dir.path().join(FILE_NAME)).expect("read"),
            b"not a key"
        );
    }
}
