// Draws the QR symbol the core rendered (MyCodeUi.svg) as vectors: the SVG is one white
// square and one black path of module-sized squares (qrcode's SVG renderer), so its path
// data is drawn as it is, scaled to the space on screen. Black on white in dark mode too,
// so that every store scanner reads it.
package jp.chiiki.ui.components

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.runtime.Composable
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.drawscope.scale
import androidx.compose.ui.graphics.vector.PathParser
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.role
import androidx.compose.ui.semantics.semantics

/** The parts of the core's SVG that are drawn: its square side and the dark modules' path. */
class QrDrawing(val side: Float, val dark: Path)

/** Reads the core's SVG; null if it is not the single-path symbol the core draws. */
fun parseQrSvg(svg: String): QrDrawing? {
    val side = Regex("""viewBox="0 0 ([0-9.]+) ([0-9.]+)"""").find(svg)?.groupValues?.get(1)
        ?: Regex("""<svg[^>]*\swidth="([0-9.]+)"""").find(svg)?.groupValues?.get(1)
        ?: return null
    val data = Regex("""<path[^>]*\sd="([^"]+)"""").find(svg)?.groupValues?.get(1) ?: return null
    val size = side.toFloatOrNull()?.takeIf { it > 0f } ?: return null
    return QrDrawing(size, PathParser().parsePathString(data).toPath())
}

@Composable
fun QrSymbol(svg: String, description: String, modifier: Modifier = Modifier) {
    val drawing = remember(svg) { parseQrSvg(svg) } ?: return
    Canvas(
        modifier.fillMaxWidth().aspectRatio(1f).semantics {
            contentDescription = description
            role = Role.Image
        },
    ) {
        drawRect(Color.White)
        val factor = size.minDimension / drawing.side
        scale(factor, pivot = Offset.Zero) {
            drawPath(drawing.dark, Color.Black)
        }
    }
}
