// The community points: what can be spent, when each part lapses, and the activities that
// earned them. Every sentence is the core's; the screen lays them out.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.LabelledValue
import jp.chiiki.ui.components.SecondaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.components.ValueRow
import jp.chiiki.ui.model.PointsActivityUi
import jp.chiiki.ui.model.PointsUi
import jp.chiiki.ui.model.UiAction

@Composable
fun PointsScreen(view: PointsUi, onAction: (UiAction) -> Unit) {
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_POINTS, onBack = { onAction(UiAction.OpenHome) })
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            view.notice?.let { Notice(it) }
            Card(
                colors = CardDefaults.cardColors(
                    containerColor = MaterialTheme.colorScheme.primaryContainer,
                    contentColor = MaterialTheme.colorScheme.onPrimaryContainer,
                ),
                modifier = Modifier.fillMaxWidth(),
            ) {
                Column(Modifier.padding(20.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                    LabelledValue(Chrome.POINTS_BALANCE, view.balance, large = true)
                    view.lots.forEach { lot ->
                        HorizontalDivider(color = MaterialTheme.colorScheme.outline)
                        ValueRow(lot.expires, lot.points)
                    }
                }
            }
            Text(view.explanation, style = MaterialTheme.typography.bodyLarge)
            view.busy?.let { Busy(it) }
            Heading(Chrome.POINTS_ACTIVITIES)
            if (view.activities.isEmpty() && view.busy == null) {
                Text(Chrome.POINTS_NO_ACTIVITIES, style = MaterialTheme.typography.bodyLarge)
            }
            view.activities.forEach { ActivityRow(it) }
            SecondaryButton(Chrome.DONE, onClick = { onAction(UiAction.OpenHome) })
        }
    }
}

/** One activity, read by TalkBack as one item: the event, where, the points and their dates. */
@Composable
private fun ActivityRow(activity: PointsActivityUi) {
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceContainer),
        modifier = Modifier.fillMaxWidth().semantics(mergeDescendants = true) {},
    ) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            ValueRow(activity.event, activity.points)
            Text(activity.place, style = MaterialTheme.typography.bodyLarge)
            Text(activity.earnedOn, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.onSurfaceVariant)
            Text(
                "${Chrome.POINTS_EXPIRY} ${activity.expires}",
                style = MaterialTheme.typography.bodyMedium,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
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
