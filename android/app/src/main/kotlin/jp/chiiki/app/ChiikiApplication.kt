// The process: one WalletHost for the life of the app, started once. Activities come and go
// (rotation, the system reclaiming them); the wallet, its cache and a payment in flight stay.
// When the app returns to the front the core refreshes; when it leaves, the resident code locks.
package jp.chiiki.app

import android.app.Application
import android.os.Build
import android.provider.Settings
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import jp.chiiki.ffi.PlatformVerifier

class ChiikiApplication : Application() {
    lateinit var host: WalletHost
        private set

    override fun onCreate() {
        super.onCreate()
        // Before the wallet's first request: the Rust TLS stack verifies through Android.
        PlatformVerifier.init(this)
        val notifier = Notifier(this).apply { createChannel() }
        host = WalletHost(
            // App-private storage, excluded from backups (res/xml/data_extraction_rules.xml):
            // it holds the session and, while a payment waits for its answer, the PIN.
            dataDir = noBackupFilesDir.resolve("wallet").path,
            serverUrl = BuildConfig.SERVER_URL,
            deviceName = deviceName(),
            deviceKey = DeviceKey(this),
            notifier = notifier,
        )
        host.start()
        ProcessLifecycleOwner.get().lifecycle.addObserver(Foreground(host))
    }

    /** The whole app (not one activity: rotation restarts those) coming and going. */
    private class Foreground(private val host: WalletHost) : DefaultLifecycleObserver {
        private var launched = true

        override fun onStart(owner: LifecycleOwner) {
            // The launch itself sent Started; later returns to the front refresh.
            if (launched) launched = false else host.cameToFront()
        }

        override fun onStop(owner: LifecycleOwner) = host.wentToBack()
    }

    /** The name the resident gave the phone (設定 > デバイス情報), else its model. */
    private fun deviceName(): String =
        Settings.Global.getString(contentResolver, Settings.Global.DEVICE_NAME)?.takeIf { it.isNotBlank() }
            ?: Build.MODEL
}
