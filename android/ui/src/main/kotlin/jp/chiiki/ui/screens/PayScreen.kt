// Paying a store, step by step as the core leads: scan the store's code, check it, the amount,
// the PIN, the wait for the server, the receipt. The camera preview is the shell's (CameraX on
// Android); this screen only gives it a place.
package jp.chiiki.ui.screens

import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.toggleable
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.LabelledValue
import jp.chiiki.ui.components.PrimaryButton
import jp.chiiki.ui.components.SecondaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.components.ValueRow
import jp.chiiki.ui.model.PayUi
import jp.chiiki.ui.model.UiAction

@Composable
fun PayScreen(
    view: PayUi,
    cameraOpen: Boolean,
    onAction: (UiAction) -> Unit,
    cameraPreview: @Composable (Modifier) -> Unit,
) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_PAY)
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            when (view) {
                is PayUi.Scanning -> Scanning(view, cameraOpen, onAction, cameraPreview)
                is PayUi.Checking -> Busy(view.message)
                is PayUi.Amount -> Amount(view, onAction)
                is PayUi.Pin -> Pin(view, onAction)
                is PayUi.Confirming -> Confirming(view)
                is PayUi.Receipt -> Receipt(view, onAction)
            }
        }
    }
}

@Composable
private fun Scanning(
    view: PayUi.Scanning,
    cameraOpen: Boolean,
    onAction: (UiAction) -> Unit,
    cameraPreview: @Composable (Modifier) -> Unit,
) {
    Text(view.message, style = MaterialTheme.typography.titleMedium, modifier = Modifier.semantics { liveRegion = LiveRegionMode.Polite })
    if (cameraOpen) {
        Box(
            Modifier.fillMaxWidth().aspectRatio(1f)
                .border(4.dp, MaterialTheme.colorScheme.primary, MaterialTheme.shapes.medium)
                .semantics(mergeDescendants = true) { contentDescription = Chrome.CAMERA_PREVIEW },
        ) {
            cameraPreview(Modifier.fillMaxSize().padding(4.dp))
        }
    }
    SecondaryButton(
        Chrome.CANCEL,
        onClick = { onAction(if (cameraOpen) UiAction.CancelScan else UiAction.CancelPayment) },
    )
}

@Composable
private fun StoreHeading(storeName: String, district: String?) {
    Column(Modifier.semantics(mergeDescendants = true) { heading() }) {
        Text(storeName, style = MaterialTheme.typography.headlineSmall)
        district?.let {
            Text(it, style = MaterialTheme.typography.bodyLarge, color = MaterialTheme.colorScheme.onSurfaceVariant)
        }
    }
}

@Composable
private fun Amount(view: PayUi.Amount, onAction: (UiAction) -> Unit) {
    StoreHeading(view.storeName, view.district)
    if (view.amountFixed) {
        LabelledValue(Chrome.AMOUNT_TO_PAY, view.amount ?: view.amountText, large = true)
    } else {
        // What the resident types stays in the field; the core reads it and answers with the
        // amount it will charge (view.amount), shown beneath.
        var text by rememberSaveable(view.storeName) { mutableStateOf(view.amountText) }
        OutlinedTextField(
            value = text,
            onValueChange = {
                text = it
                onAction(UiAction.AmountTyped(it))
            },
            label = { Text(Chrome.AMOUNT) },
            singleLine = true,
            textStyle = MaterialTheme.typography.headlineMedium,
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number, imeAction = ImeAction.Done),
            modifier = Modifier.fillMaxWidth(),
        )
        view.amount?.let { LabelledValue(Chrome.AMOUNT_TO_PAY, it, large = true) }
    }
    view.pointsChoice?.let { choice ->
        Row(
            Modifier.fillMaxWidth().heightIn(min = 56.dp).toggleable(
                value = view.usePoints,
                role = Role.Switch,
                onValueChange = { onAction(UiAction.UsePoints(it)) },
            ),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            Text(choice, style = MaterialTheme.typography.bodyLarge, modifier = Modifier.weight(1f))
            Switch(checked = view.usePoints, onCheckedChange = null)
        }
    }
    PrimaryButton(Chrome.NEXT, onClick = { onAction(UiAction.ConfirmAmount) }, enabled = view.canContinue)
    SecondaryButton(Chrome.CANCEL, onClick = { onAction(UiAction.CancelPayment) })
}

@Composable
private fun Pin(view: PayUi.Pin, onAction: (UiAction) -> Unit) {
    // Never saved: the PIN lives in this field until it is sent.
    var pin by remember { mutableStateOf("") }
    StoreHeading(view.storeName, view.district)
    LabelledValue(Chrome.AMOUNT_TO_PAY, view.amount, large = true)
    OutlinedTextField(
        value = pin,
        onValueChange = { pin = it },
        label = { Text(Chrome.ENTER_PIN) },
        singleLine = true,
        textStyle = MaterialTheme.typography.headlineMedium,
        visualTransformation = PasswordVisualTransformation(),
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword, imeAction = ImeAction.Done),
        modifier = Modifier.fillMaxWidth(),
    )
    PrimaryButton(Chrome.PAY_NOW, onClick = { onAction(UiAction.SubmitPin(pin)) })
    SecondaryButton(Chrome.CANCEL, onClick = { onAction(UiAction.CancelPayment) })
}

@Composable
private fun Confirming(view: PayUi.Confirming) {
    StoreHeading(view.storeName, null)
    LabelledValue(Chrome.AMOUNT_TO_PAY, view.amount, large = true)
    Busy(view.message)
}

@Composable
private fun Receipt(view: PayUi.Receipt, onAction: (UiAction) -> Unit) {
    Row(
        verticalAlignment = Alignment.CenterVertically,
        horizontalArrangement = Arrangement.spacedBy(12.dp),
        modifier = Modifier.semantics(mergeDescendants = true) { liveRegion = LiveRegionMode.Polite },
    ) {
        Icon(
            Icons.Filled.CheckCircle,
            contentDescription = null,
            tint = MaterialTheme.colorScheme.primary,
            modifier = Modifier.size(48.dp),
        )
        Text(
            Chrome.PAID,
            style = MaterialTheme.typography.headlineSmall,
            modifier = Modifier.semantics { heading() },
        )
    }
    StoreHeading(view.storeName, null)
    LabelledValue(Chrome.AMOUNT_TO_PAY, view.amount, large = true)
    Text(view.paidAt, style = MaterialTheme.typography.bodyLarge, color = MaterialTheme.colorScheme.onSurfaceVariant)
    HorizontalDivider(color = MaterialTheme.colorScheme.outline)
    view.legs.forEach { leg -> ValueRow(leg.label, leg.amount) }
    HorizontalDivider(color = MaterialTheme.colorScheme.outline)
    LabelledValue(Chrome.BALANCE_AFTER, view.balanceAfter)
    PrimaryButton(Chrome.DONE, onClick = { onAction(UiAction.OpenHome) })
}
