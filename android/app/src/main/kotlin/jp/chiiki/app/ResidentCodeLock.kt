// The phone's own unlock (fingerprint, face, or the screen-lock PIN / pattern) before the
// resident code is shown: whoever holds an unlocked phone can show its code at a till, so the
// code asks for the owner first. Once per time the app comes to the front.
package jp.chiiki.app

import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricManager.Authenticators.DEVICE_CREDENTIAL
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity

class ResidentCodeLock(private val activity: FragmentActivity) {
    /** Strong biometrics, or the screen lock (API 30+ allows the two together). */
    private val authenticators = BIOMETRIC_STRONG or DEVICE_CREDENTIAL

    /**
     * Asks for the owner and calls [onUnlocked] when they pass. A phone with no screen lock at
     * all has nothing to ask: the code is shown, as the phone itself is open to anyone.
     * A cancelled or failed prompt leaves the code locked; the screen offers to try again.
     */
    fun unlock(onUnlocked: () -> Unit) {
        when (BiometricManager.from(activity).canAuthenticate(authenticators)) {
            BiometricManager.BIOMETRIC_ERROR_NONE_ENROLLED,
            BiometricManager.BIOMETRIC_ERROR_NO_HARDWARE,
            -> {
                onUnlocked()
                return
            }
        }
        val prompt = BiometricPrompt(
            activity,
            ContextCompat.getMainExecutor(activity),
            object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) = onUnlocked()
            },
        )
        prompt.authenticate(
            BiometricPrompt.PromptInfo.Builder()
                .setTitle(activity.getString(R.string.unlock_title))
                .setSubtitle(activity.getString(R.string.unlock_subtitle))
                .setAllowedAuthenticators(authenticators)
                .build(),
        )
    }
}
