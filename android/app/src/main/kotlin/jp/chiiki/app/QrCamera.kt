// The camera while the core waits for a store's code: CameraX's preview with ML Kit's barcode
// scanner on the frames, QR only. The first code read is handed over once; what it says is the
// core's to judge (a wrong or foreign code gets the core's message, not a shell's).
package jp.chiiki.app

import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.mlkit.vision.MlKitAnalyzer
import androidx.camera.view.LifecycleCameraController
import androidx.camera.view.PreviewView
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.LocalLifecycleOwner
import com.google.mlkit.vision.barcode.BarcodeScannerOptions
import com.google.mlkit.vision.barcode.BarcodeScanning
import com.google.mlkit.vision.barcode.common.Barcode
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean

@Composable
fun QrCamera(modifier: Modifier, onScanned: (String) -> Unit, onUnavailable: () -> Unit) {
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val scanned by rememberUpdatedState(onScanned)
    val unavailable by rememberUpdatedState(onUnavailable)
    val previewView = remember {
        PreviewView(context).apply {
            scaleType = PreviewView.ScaleType.FILL_CENTER
            // The preview is decoration for the resident; TalkBack reads the frame's description.
            importantForAccessibility = android.view.View.IMPORTANT_FOR_ACCESSIBILITY_NO
        }
    }

    DisposableEffect(lifecycleOwner) {
        val main = ContextCompat.getMainExecutor(context)
        val frames = Executors.newSingleThreadExecutor()
        val scanner = BarcodeScanning.getClient(
            BarcodeScannerOptions.Builder().setBarcodeFormats(Barcode.FORMAT_QR_CODE).build(),
        )
        val handedOver = AtomicBoolean(false)
        val controller = LifecycleCameraController(context).apply {
            cameraSelector = CameraSelector.DEFAULT_BACK_CAMERA
            imageAnalysisBackpressureStrategy = ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST
            setImageAnalysisAnalyzer(
                frames,
                MlKitAnalyzer(listOf(scanner), ImageAnalysis.COORDINATE_SYSTEM_ORIGINAL, frames) { result ->
                    val payload = result.getValue(scanner)?.firstNotNullOfOrNull { it.rawValue }
                    if (payload != null && handedOver.compareAndSet(false, true)) {
                        main.execute { scanned(payload) }
                    }
                },
            )
        }
        controller.initializationFuture.addListener(
            {
                if (!controller.hasCamera(CameraSelector.DEFAULT_BACK_CAMERA) && handedOver.compareAndSet(false, true)) {
                    unavailable()
                }
            },
            main,
        )
        controller.bindToLifecycle(lifecycleOwner)
        previewView.controller = controller

        onDispose {
            previewView.controller = null
            controller.unbind()
            controller.clearImageAnalysisAnalyzer()
            scanner.close()
            frames.shutdown()
        }
    }

    AndroidView(factory = { previewView }, modifier = modifier)
}
