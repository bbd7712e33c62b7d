// The resident's own code, for the store to scan. The core signs and rotates it (every 30 s,
// offline too); the shell hides it until the resident has unlocked the phone's biometrics or
// passcode, and keeps the screen bright while it shows.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.widthIn
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.ErrorMessage
import jp.chiiki.ui.components.PrimaryButton
import jp.chiiki.ui.components.QrSymbol
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.model.MyCodeUi
import jp.chiiki.ui.model.UiAction

@Composable
fun MyCodeScreen(view: MyCodeUi, locked: Boolean, onAction: (UiAction) -> Unit) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_MY_CODE, onBack = { onAction(UiAction.OpenHome) })
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            horizontalAlignment = Alignment.CenterHorizontally,
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            when {
                locked -> {
                    Icon(Icons.Filled.Lock, contentDescription = null, modifier = Modifier.size(64.dp))
                    Text(Chrome.MY_CODE_LOCKED, style = MaterialTheme.typography.bodyLarge, textAlign = TextAlign.Center)
                    PrimaryButton(Chrome.UNLOCK, onClick = { onAction(UiAction.OpenMyCode) })
                }
                view.svg != null -> {
                    Text(
                        view.caption,
                        style = MaterialTheme.typography.titleMedium,
                        textAlign = TextAlign.Center,
                        modifier = Modifier.semantics { liveRegion = LiveRegionMode.Polite },
                    )
                    QrSymbol(view.svg, Chrome.MY_CODE_IMAGE, Modifier.widthIn(max = 360.dp).fillMaxWidth())
                    view.updated?.let {
                        Text(it, style = MaterialTheme.typography.bodyLarge, color = MaterialTheme.colorScheme.onSurfaceVariant)
                    }
                }
                view.error == null -> Busy(view.caption)
            }
            view.error?.let { ErrorMessage(it) }
        }
    }
}
