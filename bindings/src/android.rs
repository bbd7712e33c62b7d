//! Android only: the one-time start-up that reqwest's TLS needs on Android.
//!
//! reqwest's rustls checks certificates with `rustls-platform-verifier`, which on Android asks
//! the system's verifier through the JVM. It needs the app's `Context` (and so its class loader,
//! to find the verifier's Kotlin component, `org.rustls:rustls-platform-verifier`) before the
//! first HTTPS request; without it every handshake fails. iOS and desktops need nothing.
//!
//! This is a plain JNI entry, not a uniffi export, so the committed bindings stay identical
//! for every target. The Kotlin side is `jp.chiiki.ffi.PlatformVerifier` in android/app:
//!
//! ```kotlin
//! object PlatformVerifier {
//!     init { System.loadLibrary("chiiki_ffi") }
//!     @JvmStatic external fun init(context: Context)
//! }
//! ```
//!
//! called once from `Application.onCreate`, before the wallet starts.

use jni::errors::ThrowRuntimeExAndDefault;
use jni::objects::{JClass, JObject};
use jni::{EnvUnowned, jni_mangle};

/// `PlatformVerifier.init(context)`: keeps a global reference to the context and its class
/// loader for the life of the process; calling it again does nothing. A JNI failure is thrown
/// to the caller as a `RuntimeException` (the app cannot reach the server without this).
#[jni_mangle("jp.chiiki.ffi.PlatformVerifier")]
pub fn init<'caller>(
    mut env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    env.with_env(|env| rustls_platform_verifier::android::init_with_env(env, context))
        .resolve::<ThrowRuntimeExAndDefault>();
}
