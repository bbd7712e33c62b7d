// Draws every screen of the Android app's screens module (android/ui) on a desktop JVM with
// Compose's offscreen renderer, from the sample view models, into docs/screens/<name>.png, and
// checks that each picture has something on it. Also checks that the Japanese font has a glyph
// for every character the screens and samples use, so no word is drawn as empty boxes.
package jp.chiiki.ui.screenshots

import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Box
import androidx.compose.runtime.CompositionLocalProvider
import androidx.compose.ui.ImageComposeScene
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.platform.Font
import androidx.compose.ui.unit.Density
import java.io.File
import jp.chiiki.ui.ChiikiApp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.LocalStillPicture
import jp.chiiki.ui.theme.ChiikiTheme
import org.jetbrains.skia.Bitmap
import org.jetbrains.skia.EncodedImageFormat
import org.jetbrains.skia.FontMgr
import org.jetbrains.skia.Image
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory

/** A phone's screen: 360 × 800 dp at 2 px per dp. */
private const val WIDTH_DP = 360
private const val HEIGHT_DP = 800
private const val PX_PER_DP = 2f

class ScreenshotTest {
    private val fontDir = File(System.getProperty("screens.font.dir") ?: "/usr/share/fonts/opentype/noto")
    private val regular = fontDir.resolve("NotoSansCJK-Regular.ttc")
    private val bold = fontDir.resolve("NotoSansCJK-Bold.ttc")
    private val out = File(System.getProperty("screens.out") ?: "target/screens")
    /** Drawn by the core's `qr::render::to_svg` for a resident token (its signature is made up). */
    private val myCodeSvg = javaClass.getResource("/my-code.svg")!!.readText()

    private val japanese: FontFamily by lazy {
        check(regular.isFile) { "no Japanese font at $regular (Debian: apt-get install fonts-noto-cjk)" }
        // The collections' first face is Noto Sans CJK JP: Japanese glyph forms.
        FontFamily(
            listOfNotNull(
                Font(regular, FontWeight.Normal),
                bold.takeIf { it.isFile }?.let { Font(it, FontWeight.Bold) },
            ),
        )
    }

    @TestFactory
    fun every_screen_is_drawn_in_japanese(): List<DynamicTest> {
        out.mkdirs()
        return samples(myCodeSvg).map { sample ->
            DynamicTest.dynamicTest(sample.name) {
                val png = render(sample)
                val file = out.resolve("${sample.name}.png")
                file.writeBytes(png)
                assertDrawn(sample.name, Image.makeFromEncoded(png))
            }
        }
    }

    @Test
    fun the_japanese_font_has_every_character_the_screens_use() {
        assertTrue(regular.isFile, "no Japanese font at $regular")
        val typeface = FontMgr.default.makeFromFile(regular.path, 0)
        assertNotNull(typeface, "cannot open $regular")
        val chromeWords = Chrome::class.java.declaredFields
            .filter { it.type == String::class.java }
            .map { it.isAccessible = true; it.get(null) as String }
        assertTrue(chromeWords.size > 40, "found only ${chromeWords.size} Chrome words")
        val text = (chromeWords + samples(myCodeSvg).map { it.ui.toString() }).joinToString("")
        val missing = text.codePoints().toArray().distinct()
            .filter { !Character.isWhitespace(it) && typeface!!.getUTF32Glyph(it).toInt() == 0 }
            .map { String(Character.toChars(it)) }
        assertEquals(emptyList<String>(), missing, "characters without a glyph in ${regular.name}")
    }

    private fun render(sample: Sample): ByteArray {
        val scene = ImageComposeScene(
            width = (WIDTH_DP * PX_PER_DP).toInt(),
            height = (HEIGHT_DP * PX_PER_DP).toInt(),
            density = Density(PX_PER_DP, fontScale = sample.fontScale),
        ) {
            ChiikiTheme(dark = sample.dark, font = japanese) {
                CompositionLocalProvider(LocalStillPicture provides true) {
                    ChiikiApp(
                        ui = sample.ui,
                        shell = sample.shell,
                        onAction = {},
                        // Stands in for CameraX's preview, which only a phone has.
                        cameraPreview = { modifier -> Box(modifier.background(Color(0xFF2B2B2B))) },
                    )
                }
            }
        }
        try {
            // Later frames let dialogs settle and animations (spinners) start. An animation
            // takes its start time from the first frame after its effect began, and effects
            // begin on another thread: the pauses let them, so that every run draws the same.
            scene.render(0L)
            Thread.sleep(100)
            scene.render(16_000_000L)
            Thread.sleep(100)
            scene.render(32_000_000L)
            val image = scene.render(1_000_000_000L)
            return checkNotNull(image.encodeToData(EncodedImageFormat.PNG)) { "PNG encoding failed" }.bytes
        } finally {
            scene.close()
        }
    }

    /** The right size, and more than a blank or one-colour picture: text and shapes on it. */
    private fun assertDrawn(name: String, image: Image) {
        assertEquals((WIDTH_DP * PX_PER_DP).toInt(), image.width, "$name: width")
        assertEquals((HEIGHT_DP * PX_PER_DP).toInt(), image.height, "$name: height")
        val bitmap = Bitmap.makeFromImage(image)
        val counts = HashMap<Int, Int>()
        for (y in 0 until image.height step 2) {
            for (x in 0 until image.width step 2) {
                val colour = bitmap.getColor(x, y)
                counts[colour] = (counts[colour] ?: 0) + 1
            }
        }
        val sampled = counts.values.sum()
        val background = counts.values.max()
        assertTrue(counts.size >= 16, "$name: only ${counts.size} colours")
        assertTrue(background < sampled * 0.995, "$name: almost one colour (${background * 100.0 / sampled} %)")
    }
}
