// Home: what the resident can spend, purse by purse, and the two ways to pay.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.pulltorefresh.PullToRefreshBox
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.LabelledValue
import jp.chiiki.ui.components.PrimaryButton
import jp.chiiki.ui.components.SecondaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.components.ValueRow
import jp.chiiki.ui.model.HomeUi
import jp.chiiki.ui.model.UiAction

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun HomeScreen(view: HomeUi, onAction: (UiAction) -> Unit) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(view.greeting.ifEmpty { Chrome.TAB_HOME }) {
            // Pulling down refreshes too; the button is for TalkBack and Switch Access users.
            IconButton(onClick = { onAction(UiAction.Refresh) }) {
                Icon(Icons.Filled.Refresh, contentDescription = Chrome.REFRESH)
            }
        }
        PullToRefreshBox(
            isRefreshing = false,
            onRefresh = { onAction(UiAction.Refresh) },
            modifier = Modifier.fillMaxSize(),
        ) {
            Column(
                Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
                verticalArrangement = Arrangement.spacedBy(16.dp),
            ) {
                view.pendingPayment?.let { pending ->
                    Surface(
                        color = MaterialTheme.colorScheme.tertiaryContainer,
                        contentColor = MaterialTheme.colorScheme.onTertiaryContainer,
                        shape = MaterialTheme.shapes.medium,
                        modifier = Modifier.fillMaxWidth(),
                    ) {
                        Text(
                            pending,
                            style = MaterialTheme.typography.bodyLarge,
                            modifier = Modifier.padding(16.dp).semantics { liveRegion = LiveRegionMode.Polite },
                        )
                    }
                }
                Card(
                    colors = CardDefaults.cardColors(
                        containerColor = MaterialTheme.colorScheme.primaryContainer,
                        contentColor = MaterialTheme.colorScheme.onPrimaryContainer,
                    ),
                    modifier = Modifier.fillMaxWidth(),
                ) {
                    Column(Modifier.padding(20.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                        LabelledValue(Chrome.BALANCE_TOTAL, view.total, large = true)
                        view.purses.forEach { purse ->
                            HorizontalDivider(color = MaterialTheme.colorScheme.outline)
                            ValueRow(purse.label, purse.balance, note = purse.expiry)
                        }
                        HorizontalDivider(color = MaterialTheme.colorScheme.outline)
                        ValueRow(Chrome.POINTS, view.points)
                    }
                }
                view.lastUpdated?.let {
                    Text(it, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
                }
                PrimaryButton(Chrome.PAY_BUTTON, onClick = { onAction(UiAction.Pay) })
                SecondaryButton(Chrome.MY_CODE_BUTTON, onClick = { onAction(UiAction.OpenMyCode) })
                SecondaryButton(Chrome.POINTS_BUTTON, onClick = { onAction(UiAction.OpenPoints) })
                SecondaryButton(Chrome.SALE_BUTTON, onClick = { onAction(UiAction.OpenSale) })
                TextButton(onClick = { onAction(UiAction.LogOut) }, modifier = Modifier.fillMaxWidth()) {
                    Text(Chrome.LOG_OUT, style = MaterialTheme.typography.bodyLarge)
                }
            }
        }
    }
}
