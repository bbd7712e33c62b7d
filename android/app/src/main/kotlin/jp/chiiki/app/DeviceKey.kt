// The device key: an EC P-256 key made inside Android Keystore (StrongBox when the phone has
// one), whose private half never leaves the secure hardware. The core asks for its public half
// at login and for signatures on the resident code; this class answers, nothing more.
package jp.chiiki.app

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.util.Log
import java.security.GeneralSecurityException
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.ProviderException
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import jp.chiiki.app.bridge.Sec1
import jp.chiiki.ffi.DeviceKeyRequest
import jp.chiiki.ffi.DeviceKeyResponse

class DeviceKey(context: Context) {
    private val hasStrongBox =
        context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    /** Carries out one request of the core. Blocking (StrongBox signs in tens of ms): off the UI thread. */
    fun answer(request: DeviceKeyRequest): DeviceKeyResponse = try {
        when (request) {
            DeviceKeyRequest.PublicKey -> DeviceKeyResponse.PublicKey(Sec1.uncompressedPoint(entry().publicKey))
            is DeviceKeyRequest.Sign -> DeviceKeyResponse.Signature(sign(request.message))
        }
    } catch (e: GeneralSecurityException) {
        unavailable(e)
    } catch (e: ProviderException) {
        unavailable(e)
    } catch (e: IllegalArgumentException) {
        unavailable(e)
    }

    private fun unavailable(e: Exception): DeviceKeyResponse {
        // The reason is for logs; the core tells the resident in its own words.
        Log.w(TAG, "device key unavailable: ${e.javaClass.simpleName}")
        return DeviceKeyResponse.Unavailable("${e.javaClass.simpleName}: ${e.message}")
    }

    /** ECDSA P-256 with SHA-256; Keystore hashes the message and returns an ASN.1 DER signature. */
    private fun sign(message: ByteArray): ByteArray =
        Signature.getInstance("SHA256withECDSA").run {
            initSign(entry().privateKey)
            update(message)
            sign()
        }

    private class Entry(val privateKey: PrivateKey, val publicKey: ECPublicKey)

    private fun entry(): Entry {
        val store = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        val existing = store.getEntry(ALIAS, null) as? KeyStore.PrivateKeyEntry
        if (existing != null) {
            return Entry(existing.privateKey, existing.certificate.publicKey as ECPublicKey)
        }
        val pair = if (hasStrongBox) {
            try {
                generate(strongBox = true)
            } catch (e: StrongBoxUnavailableException) {
                generate(strongBox = false)
            }
        } else {
            generate(strongBox = false)
        }
        return Entry(pair.private, pair.public as ECPublicKey)
    }

    private fun generate(strongBox: Boolean) =
        KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, KEYSTORE).run {
            initialize(
                KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_SIGN)
                    .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
                    .setDigests(KeyProperties.DIGEST_SHA256)
                    // No per-use authentication: the code rotates every 30 seconds while shown,
                    // and the shell asks for biometrics before it shows the code at all.
                    .setUserAuthenticationRequired(false)
                    .setIsStrongBoxBacked(strongBox)
                    .build(),
            )
            generateKeyPair()
        }

    private companion object {
        const val TAG = "ChiikiDeviceKey"
        const val KEYSTORE = "AndroidKeyStore"
        const val ALIAS = "jp.chiiki.device-key.p256"
    }
}
