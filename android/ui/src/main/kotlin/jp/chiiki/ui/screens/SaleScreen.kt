// The premium set sale: where it stands, the dates, the resident's application and the
// lottery's result, what to pay, how and by when, and the additional sale. Every sentence is
// the core's; the screen lays them out and sends the taps back.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.selectableGroup
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.PrimaryButton
import jp.chiiki.ui.components.SecondaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.components.ValueRow
import jp.chiiki.ui.model.SaleOrderUi
import jp.chiiki.ui.model.SaleUi
import jp.chiiki.ui.model.UiAction

@Composable
fun SaleScreen(view: SaleUi, onAction: (UiAction) -> Unit) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_SALE, onBack = { onAction(UiAction.OpenHome) })
        val loading = view.loading
        if (loading != null) {
            Busy(loading)
            return@Column
        }
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            Text(view.title, style = MaterialTheme.typography.titleMedium)
            view.notice?.let { Notice(it) }
            view.status?.let { Text(it, style = MaterialTheme.typography.bodyLarge) }
            // What the resident came for first: the result and what to pay; the rules below.
            view.result?.let { Text(it, style = MaterialTheme.typography.titleMedium) }
            if (view.orders.isNotEmpty()) {
                Heading(Chrome.SALE_TO_PAY)
                view.orders.forEach { OrderCard(it) }
            }
            view.application?.let { Text(it, style = MaterialTheme.typography.bodyLarge) }
            view.held?.let { Text(it, style = MaterialTheme.typography.bodyLarge) }
            view.additional?.let {
                Heading(Chrome.SALE_ADDITIONAL)
                Text(it, style = MaterialTheme.typography.bodyLarge)
            }
            val enabled = view.busy == null
            if (view.setChoices.isNotEmpty()) {
                Heading(Chrome.SALE_SETS)
                Column(Modifier.selectableGroup()) {
                    view.setChoices.forEach { choice ->
                        Row(
                            Modifier.fillMaxWidth().heightIn(min = 56.dp).selectable(
                                selected = choice.selected,
                                enabled = enabled,
                                role = Role.RadioButton,
                                onClick = { onAction(UiAction.ChooseSets(choice.sets)) },
                            ),
                            verticalAlignment = Alignment.CenterVertically,
                        ) {
                            RadioButton(selected = choice.selected, onClick = null, enabled = enabled)
                            Text(choice.label, style = MaterialTheme.typography.bodyLarge, modifier = Modifier.padding(start = 12.dp))
                        }
                    }
                }
            }
            view.busy?.let { Busy(it) }
            view.applyLabel?.let { PrimaryButton(it, onClick = { onAction(UiAction.ApplyForSets) }, enabled = enabled) }
            view.buyLabel?.let { PrimaryButton(it, onClick = { onAction(UiAction.BuySets) }, enabled = enabled) }
            view.withdrawLabel?.let {
                SecondaryButton(it, onClick = { onAction(UiAction.WithdrawApplication) }, enabled = enabled)
            }
            view.offer?.let { Text(it, style = MaterialTheme.typography.bodyLarge) }
            if (view.schedule.isNotEmpty()) {
                Heading(Chrome.SALE_SCHEDULE)
                view.schedule.forEach { item ->
                    Column(Modifier.fillMaxWidth().semantics(mergeDescendants = true) {}) {
                        Text(item.label, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
                        Text(item.dates, style = MaterialTheme.typography.bodyLarge)
                    }
                }
            }
            SecondaryButton(Chrome.DONE, onClick = { onAction(UiAction.OpenHome) })
        }
    }
}

@Composable
private fun Heading(text: String) {
    Text(text, style = MaterialTheme.typography.titleSmall, modifier = Modifier.semantics { heading() })
}

@Composable
private fun Notice(text: String) {
    Surface(
        color = MaterialTheme.colorScheme.secondaryContainer,
        contentColor = MaterialTheme.colorScheme.onSecondaryContainer,
        shape = MaterialTheme.shapes.medium,
        modifier = Modifier.fillMaxWidth(),
    ) {
        Text(
            text,
            style = MaterialTheme.typography.bodyLarge,
            modifier = Modifier.padding(16.dp).semantics { liveRegion = LiveRegionMode.Polite },
        )
    }
}

@Composable
private fun OrderCard(order: SaleOrderUi) {
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceContainer),
        modifier = Modifier.fillMaxWidth(),
    ) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(order.title, style = MaterialTheme.typography.titleMedium)
            Text(order.amount, style = MaterialTheme.typography.bodyLarge)
            Text(order.status, style = MaterialTheme.typography.bodyLarge)
            ValueRow(Chrome.SALE_ORDER_NUMBER, order.orderId.toString())
            order.deadline?.let { ValueRow(Chrome.SALE_DEADLINE, it) }
            if (order.howToPay.isNotEmpty()) {
                Text(Chrome.SALE_HOW_TO_PAY, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
                order.howToPay.forEach { Text(it, style = MaterialTheme.typography.bodyLarge) }
            }
            order.paidAt?.let { ValueRow(Chrome.SALE_PAID_AT, it) }
        }
    }
}
