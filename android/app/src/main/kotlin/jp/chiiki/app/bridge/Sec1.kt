// The device key's public half in the form the core sends to the server: the SEC1 uncompressed
// point 0x04 ‖ X ‖ Y of a P-256 key, 65 bytes. Android Keystore gives the key as a Java
// ECPublicKey (its encoded form is X.509 SubjectPublicKeyInfo, which the core does not take).
// Platform-free (java.security only): tested on a desktop JVM by tests/screens.
package jp.chiiki.app.bridge

import java.math.BigInteger
import java.security.interfaces.ECPublicKey

object Sec1 {
    /** Bytes of one P-256 coordinate. */
    private const val COORDINATE = 32

    /** The uncompressed point of a P-256 public key: 65 bytes, starting 0x04. */
    fun uncompressedPoint(key: ECPublicKey): ByteArray {
        require(key.params.curve.field.fieldSize == COORDINATE * 8) {
            "not a P-256 key (${key.params.curve.field.fieldSize}-bit field)"
        }
        return byteArrayOf(0x04) + fixed(key.w.affineX) + fixed(key.w.affineY)
    }

    /** A coordinate as exactly 32 big-endian bytes (BigInteger adds a sign byte or drops zeros). */
    private fun fixed(value: BigInteger): ByteArray {
        val bytes = value.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
        require(bytes.size <= COORDINATE) { "coordinate longer than $COORDINATE bytes" }
        return ByteArray(COORDINATE - bytes.size) + bytes
    }
}
