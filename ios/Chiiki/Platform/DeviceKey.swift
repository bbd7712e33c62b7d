// The device key: a P-256 signing key in the Secure Enclave through CryptoKit, whose private
// half never leaves the chip. CryptoKit gives back an encrypted blob that only this phone's
// Secure Enclave can use; the blob is kept in the Keychain (this device only, never backed up).
// Where there is no Secure Enclave (the simulator) a CryptoKit software key is kept in the
// Keychain the same way. The core asks for the public half at login and for signatures on
// the resident code; this type answers, nothing more.

import CryptoKit
import Foundation
import Security

final class DeviceKey: @unchecked Sendable {
    // @unchecked Sendable: used from the host's key queue only.

    private let account = "jp.chiiki.device-key.p256"
    private let service = "jp.chiiki.midori"

    func answer(_ request: DeviceKeyRequest) -> DeviceKeyResponse {
        do {
            let key = try signingKey()
            switch request {
            case .publicKey:
                // x963Representation of a P-256 public key: 0x04 ‖ X ‖ Y, the SEC1 uncompressed point.
                return .publicKey(sec1: key.publicKeyX963)
            case .sign(let message):
                // CryptoKit hashes with SHA-256; DER is the form the core takes.
                return .signature(bytes: try key.signatureDER(message))
            }
        } catch {
            // The reason is for logs; the core tells the resident in its own words.
            return .unavailable(reason: String(describing: error))
        }
    }

    // MARK: The key, made once and kept

    private func signingKey() throws -> Signer {
        if SecureEnclave.isAvailable {
            if let blob = try readBlob() {
                return try EnclaveSigner(key: SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: blob))
            }
            let key = try SecureEnclave.P256.Signing.PrivateKey()
            try storeBlob(key.dataRepresentation)
            return EnclaveSigner(key: key)
        }
        if let raw = try readBlob() {
            return try SoftwareSigner(key: P256.Signing.PrivateKey(rawRepresentation: raw))
        }
        let key = P256.Signing.PrivateKey()
        try storeBlob(key.rawRepresentation)
        return SoftwareSigner(key: key)
    }

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    private func readBlob() throws -> Data? {
        var item: CFTypeRef?
        var search = query
        search[kSecReturnData as String] = true
        search[kSecMatchLimit as String] = kSecMatchLimitOne
        let status = SecItemCopyMatching(search as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            return item as? Data
        case errSecItemNotFound:
            return nil
        default:
            throw KeychainError(status: status)
        }
    }

    private func storeBlob(_ blob: Data) throws {
        var add = query
        add[kSecValueData as String] = blob
        // Readable after the first unlock (the code rotates while the app is open), on this
        // phone only: never in a backup, never on another device.
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(add as CFDictionary, nil)
        guard status == errSecSuccess else { throw KeychainError(status: status) }
    }
}

struct KeychainError: Error, CustomStringConvertible {
    let status: OSStatus
    var description: String { "Keychain status \(status)" }
}

/// The two kinds of key behind one face.
private protocol Signer {
    var publicKeyX963: Data { get }
    func signatureDER(_ message: Data) throws -> Data
}

private struct EnclaveSigner: Signer {
    let key: SecureEnclave.P256.Signing.PrivateKey
    var publicKeyX963: Data { key.publicKey.x963Representation }
    func signatureDER(_ message: Data) throws -> Data { try key.signature(for: message).derRepresentation }
}

private struct SoftwareSigner: Signer {
    let key: P256.Signing.PrivateKey
    var publicKeyX963: Data { key.publicKey.x963Representation }
    func signatureDER(_ message: Data) throws -> Data { try key.signature(for: message).derRepresentation }
}
