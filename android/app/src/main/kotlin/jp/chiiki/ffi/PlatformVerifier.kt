// HTTPS on Android: reqwest's rustls in libchiiki_ffi checks server certificates with Android's
// own verifier (rustls-platform-verifier), reached back through JNI. The Rust side needs the
// app's Context once, before the first request, or every HTTPS request fails. A plain JNI
// entry (bindings/src/android.rs), not a uniffi export, so the generated bindings stay the same
// for every platform; it sits in the bindings' package because the Rust library names it.
package jp.chiiki.ffi

import android.content.Context

object PlatformVerifier {
    init {
        // JNA (the uniffi bindings) loads the same library by name; JNI's native method lookup
        // only sees libraries loaded through System.loadLibrary.
        System.loadLibrary("chiiki_ffi")
    }

    /** Once per process, with the application context; later calls do nothing. */
    @JvmStatic
    external fun init(context: Context)
}
