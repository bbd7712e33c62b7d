// The one activity: draws the WalletHost's state with the screens of android/ui and does the
// phone's part around them: runtime permissions (camera, notifications), the unlock before the
// resident code, the back gesture, and the window while the code shows (bright, no screenshots).
package jp.chiiki.app

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.view.WindowManager
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.contract.ActivityResultContracts.RequestPermission
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.LineBreak
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import jp.chiiki.ui.ChiikiApp
import jp.chiiki.ui.model.ShellUi
import jp.chiiki.ui.model.UiAction
import jp.chiiki.ui.model.backAction
import jp.chiiki.ui.theme.ChiikiTheme

class MainActivity : FragmentActivity() {
    private val host: WalletHost
        get() = (application as ChiikiApplication).host

    private lateinit var codeLock: ResidentCodeLock

    private var cameraGranted by mutableStateOf(false)
    private var cameraRationale by mutableStateOf(false)
    private var notificationsAsked = false

    private val cameraPermission = registerForActivityResult(RequestPermission()) { granted ->
        cameraGranted = granted
        // Refused: the core tells the resident how to allow it in Settings.
        if (!granted) host.cameraUnavailable()
    }

    // The answer changes nothing now: Notifier checks the permission each time it shows one.
    private val notificationPermission = registerForActivityResult(RequestPermission()) { }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        codeLock = ResidentCodeLock(this)
        cameraGranted = granted(Manifest.permission.CAMERA)
        setContent { Root() }
    }

    @Composable
    private fun Root() {
        val state by host.state.collectAsStateWithLifecycle()
        val cameraOpen = state.cameraWanted && cameraGranted
        val myCodeLocked = state.myCodeShown && !state.myCodeUnlocked

        // The core asked for the camera: ask Android for the permission first if need be.
        LaunchedEffect(state.cameraWanted) {
            if (state.cameraWanted && !cameraGranted) {
                if (shouldShowRequestPermissionRationale(Manifest.permission.CAMERA)) {
                    cameraRationale = true
                } else {
                    cameraPermission.launch(Manifest.permission.CAMERA)
                }
            }
        }

        ChiikiTheme(lineBreak = PhraseLineBreak) {
            ChiikiApp(
                ui = state.ui,
                shell = ShellUi(cameraOpen = cameraOpen, myCodeLocked = myCodeLocked),
                onAction = ::onAction,
                cameraPreview = { modifier ->
                    QrCamera(modifier, onScanned = host::scanned, onUnavailable = host::cameraUnavailable)
                },
            )
            if (cameraRationale) CameraRationale()
        }

        val back = state.ui.backAction(cameraOpen)
        BackHandler(enabled = back != null) { back?.let(::onAction) }

        KeepScreen(on = cameraOpen || state.myCodeShown, secureAndBright = state.myCodeShown && !myCodeLocked)
    }

    private fun onAction(action: UiAction) {
        when (action) {
            UiAction.OpenMyCode ->
                if (host.state.value.myCodeUnlocked) host.onAction(action) else codeLock.unlock(host::myCodeUnlocked)
            UiAction.Pay -> {
                askForNotificationsOnce()
                host.onAction(action)
            }
            else -> host.onAction(action)
        }
    }

    /** Payments may be confirmed after the phone went back in a pocket: ask when paying first. */
    private fun askForNotificationsOnce() {
        if (notificationsAsked || Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
        notificationsAsked = true
        if (!granted(Manifest.permission.POST_NOTIFICATIONS)) {
            notificationPermission.launch(Manifest.permission.POST_NOTIFICATIONS)
        }
    }

    @Composable
    private fun CameraRationale() {
        AlertDialog(
            onDismissRequest = {
                cameraRationale = false
                host.cameraUnavailable()
            },
            title = { Text(stringResource(R.string.camera_rationale_title)) },
            text = { Text(stringResource(R.string.camera_rationale)) },
            confirmButton = {
                TextButton(onClick = {
                    cameraRationale = false
                    cameraPermission.launch(Manifest.permission.CAMERA)
                }) { Text(stringResource(R.string.camera_rationale_continue)) }
            },
            dismissButton = {
                TextButton(onClick = {
                    cameraRationale = false
                    host.cameraUnavailable()
                }) { Text(stringResource(R.string.camera_rationale_cancel)) }
            },
        )
    }

    /**
     * While the camera or the resident code is on screen the display stays on; while the code
     * shows it is at full brightness (store scanners read it better) and kept out of
     * screenshots and the recent-apps thumbnail.
     */
    @Composable
    private fun KeepScreen(on: Boolean, secureAndBright: Boolean) {
        DisposableEffect(on) {
            if (on) window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
            onDispose { window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON) }
        }
        DisposableEffect(secureAndBright) {
            if (secureAndBright) {
                window.addFlags(WindowManager.LayoutParams.FLAG_SECURE)
                window.attributes = window.attributes.apply { screenBrightness = 1f }
            }
            onDispose {
                window.clearFlags(WindowManager.LayoutParams.FLAG_SECURE)
                window.attributes = window.attributes.apply {
                    screenBrightness = WindowManager.LayoutParams.BRIGHTNESS_OVERRIDE_NONE
                }
            }
        }
    }

    private fun granted(permission: String) =
        ContextCompat.checkSelfPermission(this, permission) == PackageManager.PERMISSION_GRANTED

    private companion object {
        /** Japanese wraps between phrases (文節) on Android 13+, with strict kinsoku. */
        val PhraseLineBreak = LineBreak.Paragraph.copy(wordBreak = LineBreak.WordBreak.Phrase)
    }
}
