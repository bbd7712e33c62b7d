// The one Wallet of the process and the WalletShell it calls back: the bridge between the core
// (through the generated bindings) and the Android screens. It forwards the resident's actions
// as events, publishes the view model for Compose, and carries out what only the phone can:
// the camera request, the Keystore device key, notifications.
//
// Threads: every call into the wallet (dispatch, resolve*) goes through one background thread,
// in order, because dispatch runs the app and its SQLite cache on the caller's thread. The
// wallet calls WalletShell from any thread; StateFlow makes the hop to Compose safe. Keystore
// work has its own thread so that a slow StrongBox never holds up a tap.
package jp.chiiki.app

import android.util.Log
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import jp.chiiki.app.bridge.toEvent
import jp.chiiki.app.bridge.toUi
import jp.chiiki.ffi.DeviceKeyRequest
import jp.chiiki.ffi.DeviceKeyStore
import jp.chiiki.ffi.Event
import jp.chiiki.ffi.Notification
import jp.chiiki.ffi.ScanOutcome
import jp.chiiki.ffi.Wallet
import jp.chiiki.ffi.WalletConfig
import jp.chiiki.ffi.WalletException
import jp.chiiki.ffi.WalletShell
import jp.chiiki.ui.model.PayUi
import jp.chiiki.ui.model.ScreenUi
import jp.chiiki.ui.model.UiAction
import jp.chiiki.ui.model.WalletUi
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** What the activity draws: the core's view model and the shell's own state beside it. */
data class HostState(
    val ui: WalletUi,
    /** The core's open scan request, answered with resolveScan; null when none is open. */
    val cameraRequest: ULong? = null,
    /** The resident unlocked the resident code since the app last came to the front. */
    val myCodeUnlocked: Boolean = false,
) {
    /** The camera shows while the core waits for a scan on the payment's scanning step. */
    val cameraWanted: Boolean
        get() = cameraRequest != null && (ui.screen as? ScreenUi.Pay)?.view is PayUi.Scanning

    val myCodeShown: Boolean
        get() = ui.screen is ScreenUi.MyCode
}

class WalletHost(
    dataDir: String,
    private val serverUrl: String,
    private val deviceName: String,
    private val deviceKey: DeviceKey,
    private val notifier: Notifier,
) : WalletShell {
    private val walletThread: ExecutorService = Executors.newSingleThreadExecutor { Thread(it, "chiiki-wallet-calls") }
    private val keyThread: ExecutorService = Executors.newSingleThreadExecutor { Thread(it, "chiiki-device-key") }

    private val wallet = Wallet(WalletConfig(dataDir = dataDir, deviceKey = DeviceKeyStore.PLATFORM), this)

    private val _state = MutableStateFlow(HostState(wallet.view().toUi()))
    val state: StateFlow<HostState> = _state.asStateFlow()

    /** Once per process: the app was launched. */
    fun start() = send(Event.Started(serverUrl, deviceName))

    /** The app came back to the front (not the first start): the core refreshes. */
    fun cameToFront() = send(Event.RefreshRequested)

    /** The app went to the background: the resident code needs unlocking again. */
    fun wentToBack() = _state.update { it.copy(myCodeUnlocked = false) }

    /**
     * What the resident did on a screen. Two actions the shell handles first: closing the camera
     * answers the core's scan request; the resident code opens only once unlocked (the activity
     * runs the unlock and then calls [myCodeUnlocked]).
     */
    fun onAction(action: UiAction) {
        when (action) {
            UiAction.CancelScan -> answerScan(ScanOutcome.Cancelled)
            UiAction.OpenMyCode -> if (state.value.myCodeUnlocked) send(Event.MyCodeOpened)
            else -> action.toEvent()?.let(::send)
        }
    }

    /** Biometrics or the passcode succeeded (or the phone has no lock): show the resident code. */
    fun myCodeUnlocked() {
        _state.update { it.copy(myCodeUnlocked = true) }
        send(Event.MyCodeOpened)
    }

    /** The camera read a QR code, or could not be used (permission refused, no camera). */
    fun scanned(payload: String) = answerScan(ScanOutcome.Scanned(payload))

    fun cameraUnavailable() = answerScan(ScanOutcome.Unavailable)

    private fun answerScan(outcome: ScanOutcome) {
        val id = _state.getAndUpdateCamera(null) ?: return
        walletThread.execute { call { wallet.resolveScan(id, outcome) } }
    }

    /** Sets the open scan request and returns the one that was open. */
    private fun MutableStateFlow<HostState>.getAndUpdateCamera(request: ULong?): ULong? {
        while (true) {
            val current = value
            if (compareAndSet(current, current.copy(cameraRequest = request))) return current.cameraRequest
        }
    }

    private fun send(event: Event) = walletThread.execute { call { wallet.dispatch(event) } }

    private inline fun call(block: () -> Unit) {
        try {
            block()
        } catch (e: WalletException) {
            // Never the event itself: it may carry a PIN or a password.
            Log.e(TAG, "wallet refused a call: ${e.javaClass.simpleName}: ${e.message}")
        }
    }

    // --- WalletShell: called by the wallet, from any thread -----------------------------------

    override fun render() {
        val ui = wallet.view().toUi()
        _state.update { it.copy(ui = ui) }
    }

    override fun openCamera(requestId: ULong) {
        // One scan at a time. A request still open here belongs to a payment the core has left
        // (the camera shows only on the scanning step); answering it now would cancel the new
        // one, so it is let go unanswered.
        _state.getAndUpdateCamera(requestId)
    }

    override fun useDeviceKey(requestId: ULong, request: DeviceKeyRequest) {
        keyThread.execute {
            val response = deviceKey.answer(request)
            walletThread.execute { call { wallet.resolveDeviceKey(requestId, response) } }
        }
    }

    override fun showNotification(notification: Notification) {
        notifier.show(notification.title, notification.body)
    }

    private companion object {
        const val TAG = "ChiikiWallet"
    }
}
