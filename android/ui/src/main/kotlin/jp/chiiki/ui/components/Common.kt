// Building blocks shared by the screens: large buttons (at least 56 dp high, wider than the
// 48 dp minimum), titles that TalkBack announces as headings, and status lines that it reads
// out when they change.
package jp.chiiki.ui.components

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.text.BasicText
import androidx.compose.foundation.text.TextAutoSize
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LocalContentColor
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.staticCompositionLocalOf
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalDensity
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.TextStyle
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import jp.chiiki.ui.Chrome

/** The screen's title bar: an optional back button and a heading that wraps at large sizes. */
@Composable
fun TitleBar(title: String, onBack: (() -> Unit)? = null, actions: @Composable () -> Unit = {}) {
    Surface(color = MaterialTheme.colorScheme.surface, tonalElevation = 0.dp) {
        Row(
            Modifier.fillMaxWidth().heightIn(min = 64.dp).padding(horizontal = 8.dp),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            if (onBack != null) {
                IconButton(onClick = onBack) {
                    Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = Chrome.BACK)
                }
            }
            Text(
                title,
                style = MaterialTheme.typography.headlineSmall,
                modifier = Modifier.weight(1f).padding(horizontal = 8.dp, vertical = 8.dp)
                    .semantics { heading() },
            )
            actions()
        }
    }
}

/** The one thing to do next on a screen. */
@Composable
fun PrimaryButton(
    text: String,
    onClick: () -> Unit,
    modifier: Modifier = Modifier,
    enabled: Boolean = true,
) {
    Button(
        onClick = onClick,
        enabled = enabled,
        modifier = modifier.fillMaxWidth().heightIn(min = 56.dp),
    ) {
        Text(text, style = MaterialTheme.typography.labelLarge, textAlign = TextAlign.Center)
    }
}

/** A way out or a second choice. */
@Composable
fun SecondaryButton(
    text: String,
    onClick: () -> Unit,
    modifier: Modifier = Modifier,
    enabled: Boolean = true,
) {
    OutlinedButton(
        onClick = onClick,
        enabled = enabled,
        modifier = modifier.fillMaxWidth().heightIn(min = 56.dp),
    ) {
        Text(text, style = MaterialTheme.typography.labelLarge, textAlign = TextAlign.Center)
    }
}

/**
 * True where a screen is drawn as a still picture (the screenshot renders): spinners are drawn
 * as a fixed arc then, since an endless animation's frame depends on thread timing.
 */
val LocalStillPicture = staticCompositionLocalOf { false }

/** A spinner with the core's words beside it; TalkBack reads the words when they appear. */
@Composable
fun Busy(message: String, modifier: Modifier = Modifier) {
    Column(
        modifier.fillMaxWidth().padding(24.dp),
        horizontalAlignment = Alignment.CenterHorizontally,
        verticalArrangement = Arrangement.spacedBy(16.dp),
    ) {
        if (LocalStillPicture.current) {
            CircularProgressIndicator(progress = { 0.3f }, modifier = Modifier.size(48.dp))
        } else {
            CircularProgressIndicator(Modifier.size(48.dp))
        }
        Text(
            message,
            style = MaterialTheme.typography.bodyLarge,
            textAlign = TextAlign.Center,
            modifier = Modifier.semantics { liveRegion = LiveRegionMode.Polite },
        )
    }
}

/** A message from the core about what went wrong, read out as soon as it appears. */
@Composable
fun ErrorMessage(message: String, modifier: Modifier = Modifier) {
    Surface(
        color = MaterialTheme.colorScheme.errorContainer,
        contentColor = MaterialTheme.colorScheme.onErrorContainer,
        shape = MaterialTheme.shapes.medium,
        modifier = modifier.fillMaxWidth(),
    ) {
        Text(
            message,
            style = MaterialTheme.typography.bodyLarge,
            modifier = Modifier.padding(16.dp)
                .semantics { liveRegion = LiveRegionMode.Assertive },
        )
    }
}

/** A label above its value, read by TalkBack as one item ("お支払い金額 ¥1,200"). */
@Composable
fun LabelledValue(label: String, value: String, modifier: Modifier = Modifier, large: Boolean = false) {
    Column(modifier.semantics(mergeDescendants = true) {}) {
        Text(
            label,
            style = MaterialTheme.typography.bodyMedium,
            color = MaterialTheme.colorScheme.onSurfaceVariant,
        )
        OneLine(value, if (large) MaterialTheme.typography.displayMedium else MaterialTheme.typography.titleLarge)
    }
}

/**
 * An amount or other short value that must not break across lines (¥11,540 read as "¥11,54"
 * and "0" would be wrong): drawn at the style's size, and smaller only when the line is too
 * narrow for it, as with the largest font sizes.
 */
@Composable
fun OneLine(text: String, style: TextStyle, modifier: Modifier = Modifier) {
    BasicText(
        text,
        modifier = modifier,
        style = style.merge(color = LocalContentColor.current),
        maxLines = 1,
        softWrap = false,
        autoSize = TextAutoSize.StepBased(minFontSize = 12.sp, maxFontSize = style.fontSize),
    )
}

/** Whether the resident chose one of the largest font sizes: rows then stack their parts. */
@Composable
fun largeText(): Boolean = LocalDensity.current.fontScale >= 1.5f

/**
 * A label and its value on one line ("チャージ  ¥3,000"), with an optional note beneath; at the
 * largest font sizes the value moves under the label instead of squeezing it. One TalkBack item.
 */
@Composable
fun ValueRow(label: String, value: String, modifier: Modifier = Modifier, note: String? = null) {
    val labelStyle = MaterialTheme.typography.bodyLarge
    val valueStyle = MaterialTheme.typography.titleMedium
    Column(modifier.fillMaxWidth().semantics(mergeDescendants = true) {}) {
        if (largeText()) {
            Text(label, style = labelStyle)
            OneLine(value, valueStyle)
        } else {
            Row(Modifier.fillMaxWidth(), verticalAlignment = Alignment.Top) {
                Text(label, style = labelStyle, modifier = Modifier.weight(1f).padding(end = 12.dp))
                OneLine(value, valueStyle)
            }
        }
        note?.let {
            Text(it, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
        }
    }
}
