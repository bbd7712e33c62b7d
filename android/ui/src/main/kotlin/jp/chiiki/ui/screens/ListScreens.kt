// The resident's history and the store directory: lists the core has already filtered and
// worded; the screens lay them out and send back what was typed or chosen.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.LazyRow
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Search
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.OneLine
import jp.chiiki.ui.components.SecondaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.components.largeText
import jp.chiiki.ui.model.ChoiceUi
import jp.chiiki.ui.model.HistoryRowUi
import jp.chiiki.ui.model.HistoryUi
import jp.chiiki.ui.model.StoreRowUi
import jp.chiiki.ui.model.StoresUi
import jp.chiiki.ui.model.UiAction

@Composable
fun HistoryScreen(view: HistoryUi, onAction: (UiAction) -> Unit) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_HISTORY, onBack = { onAction(UiAction.OpenHome) })
        LazyColumn(
            Modifier.fillMaxSize(),
            contentPadding = PaddingValues(horizontal = 20.dp, vertical = 8.dp),
        ) {
            view.emptyMessage?.let { message ->
                item {
                    Text(
                        message,
                        style = MaterialTheme.typography.bodyLarge,
                        textAlign = TextAlign.Center,
                        modifier = Modifier.fillMaxWidth().padding(vertical = 32.dp),
                    )
                }
            }
            items(view.rows, key = { it.id }) { row ->
                HistoryRow(row)
                HorizontalDivider(color = MaterialTheme.colorScheme.outline)
            }
            if (view.loading) {
                item { Busy(Chrome.BUSY) }
            } else if (view.canLoadMore) {
                item {
                    SecondaryButton(
                        Chrome.LOAD_MORE,
                        onClick = { onAction(UiAction.LoadMoreHistory) },
                        modifier = Modifier.padding(vertical = 16.dp),
                    )
                }
            }
        }
    }
}

@Composable
private fun HistoryRow(row: HistoryRowUi) {
    // One TalkBack item per entry: "みどりマート大間々店 -¥1,200 2025年1月10日 12:00 …".
    Column(
        Modifier.fillMaxWidth().heightIn(min = 48.dp).padding(vertical = 12.dp)
            .semantics(mergeDescendants = true) {},
    ) {
        if (largeText()) {
            Text(row.title, style = MaterialTheme.typography.titleMedium)
            OneLine(row.amount, MaterialTheme.typography.titleMedium)
        } else {
            Row(Modifier.fillMaxWidth()) {
                Text(row.title, style = MaterialTheme.typography.titleMedium, modifier = Modifier.weight(1f))
                OneLine(row.amount, MaterialTheme.typography.titleMedium, Modifier.padding(start = 12.dp))
            }
        }
        Text(row.date, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
        row.detail?.let {
            Text(it, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
        }
    }
}

@Composable
fun StoresScreen(view: StoresUi, onAction: (UiAction) -> Unit) {
    // The field keeps the resident's own typing; the core filters on every change.
    var query by rememberSaveable { mutableStateOf(view.query) }
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_STORES, onBack = { onAction(UiAction.OpenHome) })
        LazyColumn(
            Modifier.fillMaxSize(),
            contentPadding = PaddingValues(vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            item {
                OutlinedTextField(
                    value = query,
                    onValueChange = {
                        query = it
                        onAction(UiAction.SearchStores(it))
                    },
                    label = { Text(Chrome.SEARCH_STORES) },
                    leadingIcon = { Icon(Icons.Filled.Search, contentDescription = null) },
                    singleLine = true,
                    keyboardOptions = KeyboardOptions(imeAction = ImeAction.Search),
                    modifier = Modifier.fillMaxWidth().padding(horizontal = 20.dp),
                )
            }
            item { ChoiceRow(Chrome.INDUSTRY, view.industries) { onAction(UiAction.ChooseIndustry(it)) } }
            item { ChoiceRow(Chrome.DISTRICT_FILTER, view.districts) { onAction(UiAction.ChooseDistrict(it)) } }
            item {
                Text(
                    view.summary,
                    style = MaterialTheme.typography.titleMedium,
                    modifier = Modifier.padding(horizontal = 20.dp).semantics {
                        liveRegion = LiveRegionMode.Polite
                        heading()
                    },
                )
            }
            items(view.stores, key = { it.id }) { store -> StoreRow(store) }
        }
    }
}

/**
 * A filter as a row of chips: "すべて" clears it; tapping the chosen chip again clears it too.
 * The chips come from the core (value, label, selected); the row only sends values back.
 */
@Composable
private fun ChoiceRow(title: String, choices: List<ChoiceUi>, onChoose: (String?) -> Unit) {
    Column(Modifier.fillMaxWidth()) {
        Text(
            title,
            style = MaterialTheme.typography.titleSmall,
            modifier = Modifier.padding(horizontal = 20.dp).semantics { heading() },
        )
        LazyRow(
            contentPadding = PaddingValues(horizontal = 20.dp),
            horizontalArrangement = Arrangement.spacedBy(8.dp),
        ) {
            item {
                FilterChip(
                    selected = choices.none { it.selected },
                    onClick = { onChoose(null) },
                    label = { Text(Chrome.ALL, style = MaterialTheme.typography.bodyLarge) },
                    modifier = Modifier.heightIn(min = 48.dp),
                )
            }
            items(choices, key = { it.value }) { choice ->
                FilterChip(
                    selected = choice.selected,
                    onClick = { onChoose(if (choice.selected) null else choice.value) },
                    label = { Text(choice.label, style = MaterialTheme.typography.bodyLarge) },
                    modifier = Modifier.heightIn(min = 48.dp),
                )
            }
        }
    }
}

@Composable
private fun StoreRow(store: StoreRowUi) {
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceContainer),
        modifier = Modifier.fillMaxWidth().padding(horizontal = 20.dp).semantics(mergeDescendants = true) {},
    ) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(store.name, style = MaterialTheme.typography.titleMedium)
            Text(store.kana, style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.onSurfaceVariant)
            Text("${store.industry}・${store.district}", style = MaterialTheme.typography.bodyMedium)
            Text(store.address, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
        }
    }
}
