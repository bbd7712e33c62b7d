// High-contrast colours and large type for residents of every age. Text colours reach at least
// 7:1 against their backgrounds (WCAG AAA) in both light and dark; sizes are in sp, so the
// system's font size setting scales every word.
package jp.chiiki.ui.theme

import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.ColorScheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Typography
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.TextStyle
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.intl.LocaleList
import androidx.compose.ui.text.style.LineBreak
import androidx.compose.ui.unit.sp

private val Light = lightColorScheme(
    primary = Color(0xFF005A2B),
    onPrimary = Color.White,
    primaryContainer = Color(0xFFC9EFD2),
    onPrimaryContainer = Color(0xFF00210C),
    secondary = Color(0xFF2F4A38),
    onSecondary = Color.White,
    secondaryContainer = Color(0xFFDCEBDF),
    onSecondaryContainer = Color(0xFF0B1F12),
    tertiary = Color(0xFF5A4300),
    onTertiary = Color.White,
    tertiaryContainer = Color(0xFFFFE08A),
    onTertiaryContainer = Color(0xFF221A00),
    background = Color.White,
    onBackground = Color(0xFF111111),
    surface = Color.White,
    onSurface = Color(0xFF111111),
    surfaceVariant = Color(0xFFEDF1EC),
    onSurfaceVariant = Color(0xFF2B2F2C),
    surfaceContainer = Color(0xFFF3F6F2),
    surfaceContainerHigh = Color(0xFFEDF1EC),
    outline = Color(0xFF4F5550),
    error = Color(0xFFA00000),
    onError = Color.White,
    errorContainer = Color(0xFFFFDAD6),
    onErrorContainer = Color(0xFF410002),
)

private val Dark = darkColorScheme(
    primary = Color(0xFF8CF0A8),
    onPrimary = Color(0xFF00210C),
    primaryContainer = Color(0xFF0F4A26),
    onPrimaryContainer = Color(0xFFD9FBE1),
    secondary = Color(0xFFBFD8C6),
    onSecondary = Color(0xFF0B1F12),
    secondaryContainer = Color(0xFF24372A),
    onSecondaryContainer = Color(0xFFE3F2E7),
    tertiary = Color(0xFFFFD866),
    onTertiary = Color(0xFF221A00),
    tertiaryContainer = Color(0xFF4A3800),
    onTertiaryContainer = Color(0xFFFFF0C7),
    background = Color.Black,
    onBackground = Color.White,
    surface = Color.Black,
    onSurface = Color.White,
    surfaceVariant = Color(0xFF1F2420),
    onSurfaceVariant = Color(0xFFE2E7E2),
    surfaceContainer = Color(0xFF151916),
    surfaceContainerHigh = Color(0xFF1F2420),
    outline = Color(0xFFB5BCB6),
    error = Color(0xFFFFB4AB),
    onError = Color(0xFF410002),
    errorContainer = Color(0xFF690005),
    onErrorContainer = Color(0xFFFFDAD6),
)

private fun typography(font: FontFamily, lineBreak: LineBreak): Typography {
    fun style(size: Int, line: Int, weight: FontWeight = FontWeight.Normal) = TextStyle(
        fontFamily = font,
        fontSize = size.sp,
        lineHeight = line.sp,
        fontWeight = weight,
        lineBreak = lineBreak,
        // Japanese glyph forms for kanji even on a phone set to another language.
        localeList = LocaleList("ja-JP"),
    )
    return Typography(
        displayMedium = style(40, 48, FontWeight.Bold),
        headlineLarge = style(30, 38, FontWeight.Bold),
        headlineMedium = style(26, 34, FontWeight.Bold),
        headlineSmall = style(22, 30, FontWeight.Bold),
        titleLarge = style(22, 30, FontWeight.Bold),
        titleMedium = style(19, 27, FontWeight.Bold),
        titleSmall = style(17, 24, FontWeight.Bold),
        bodyLarge = style(18, 27),
        bodyMedium = style(17, 25),
        bodySmall = style(15, 22),
        labelLarge = style(18, 24, FontWeight.Bold),
        labelMedium = style(15, 20, FontWeight.Bold),
        labelSmall = style(13, 18, FontWeight.Bold),
    )
}

/**
 * The app's colours and type. `font` is the platform's Japanese font unless one is given;
 * `lineBreak` is how paragraphs wrap: the Android app passes phrase-based breaking (文節,
 * Android 13+), which only the Android flavour of Compose can name.
 */
@Composable
fun ChiikiTheme(
    dark: Boolean = isSystemInDarkTheme(),
    font: FontFamily = FontFamily.Default,
    lineBreak: LineBreak = LineBreak.Paragraph,
    content: @Composable () -> Unit,
) {
    val colors: ColorScheme = if (dark) Dark else Light
    MaterialTheme(colorScheme = colors, typography = typography(font, lineBreak), content = content)
}
