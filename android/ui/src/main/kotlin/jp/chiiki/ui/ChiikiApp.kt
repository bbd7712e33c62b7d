// The root of the resident app's screens: the offline banner, the current screen, the tab bar
// and the alert, all drawn from one WalletUi. Compose only: no android.* here, so the same code
// renders on a desktop JVM (tests/screens draws every screen to PNG).
package jp.chiiki.ui

import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.WindowInsets
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.statusBars
import androidx.compose.foundation.layout.windowInsetsPadding
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.List
import androidx.compose.material.icons.filled.AccountBox
import androidx.compose.material.icons.filled.Home
import androidx.compose.material.icons.filled.Place
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.CompositionLocalProvider
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.compose.ui.platform.LocalDensity
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.Density
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.components.OneLine
import jp.chiiki.ui.model.AlertUi
import jp.chiiki.ui.model.ScreenUi
import jp.chiiki.ui.model.ShellUi
import jp.chiiki.ui.model.UiAction
import jp.chiiki.ui.model.WalletUi
import jp.chiiki.ui.screens.HistoryScreen
import jp.chiiki.ui.screens.HomeScreen
import jp.chiiki.ui.screens.LoadingScreen
import jp.chiiki.ui.screens.LoginScreen
import jp.chiiki.ui.screens.MyCodeScreen
import jp.chiiki.ui.screens.PayScreen
import jp.chiiki.ui.screens.RegistrationScreen
import jp.chiiki.ui.screens.PointsScreen
import jp.chiiki.ui.screens.SaleScreen
import jp.chiiki.ui.screens.StoresScreen

/**
 * The whole app for one view model. `onAction` receives every tap and keystroke that matters;
 * `cameraPreview` draws the live camera (the shell's) while the core waits for a scan.
 */
@Composable
fun ChiikiApp(
    ui: WalletUi,
    shell: ShellUi,
    onAction: (UiAction) -> Unit,
    cameraPreview: @Composable (Modifier) -> Unit,
) {
    Scaffold(
        topBar = { ui.offlineBanner?.let { OfflineBanner(it) } },
        bottomBar = { tabFor(ui.screen)?.let { Tabs(it, onAction) } },
    ) { padding ->
        Box(Modifier.fillMaxSize().padding(padding)) {
            when (val screen = ui.screen) {
                is ScreenUi.Loading -> LoadingScreen(screen.message)
                is ScreenUi.Login -> LoginScreen(screen.view, onAction)
                is ScreenUi.Registration -> RegistrationScreen(screen.view, onAction)
                is ScreenUi.Home -> HomeScreen(screen.view, onAction)
                is ScreenUi.History -> HistoryScreen(screen.view, onAction)
                is ScreenUi.Stores -> StoresScreen(screen.view, onAction)
                is ScreenUi.Pay -> PayScreen(screen.view, shell.cameraOpen, onAction, cameraPreview)
                is ScreenUi.MyCode -> MyCodeScreen(screen.view, shell.myCodeLocked, onAction)
                is ScreenUi.Sale -> SaleScreen(screen.view, onAction)
                is ScreenUi.Points -> PointsScreen(screen.view, onAction)
            }
        }
    }
    ui.alert?.let { Alert(it, onAction) }
}

@Composable
private fun OfflineBanner(text: String) {
    Surface(
        color = MaterialTheme.colorScheme.tertiaryContainer,
        contentColor = MaterialTheme.colorScheme.onTertiaryContainer,
        modifier = Modifier.fillMaxWidth(),
    ) {
        Row(
            Modifier.fillMaxWidth()
                .windowInsetsPadding(WindowInsets.statusBars)
                .padding(horizontal = 16.dp, vertical = 12.dp)
                .semantics(mergeDescendants = true) { liveRegion = LiveRegionMode.Polite },
            verticalAlignment = Alignment.CenterVertically,
        ) {
            Icon(Icons.Filled.Warning, contentDescription = null, modifier = Modifier.padding(end = 12.dp))
            Text(text, style = MaterialTheme.typography.bodyMedium)
        }
    }
}

@Composable
private fun Alert(alert: AlertUi, onAction: (UiAction) -> Unit) {
    AlertDialog(
        onDismissRequest = { onAction(UiAction.DismissAlert) },
        text = { Text(alert.message, style = MaterialTheme.typography.bodyLarge) },
        confirmButton = {
            val retry = alert.retryLabel
            if (retry != null) {
                TextButton(onClick = { onAction(UiAction.Retry) }) {
                    Text(retry, style = MaterialTheme.typography.labelLarge)
                }
            } else {
                TextButton(onClick = { onAction(UiAction.DismissAlert) }) {
                    Text(Chrome.CLOSE, style = MaterialTheme.typography.labelLarge)
                }
            }
        },
        dismissButton = if (alert.retryLabel != null) {
            {
                TextButton(onClick = { onAction(UiAction.DismissAlert) }) {
                    Text(Chrome.CLOSE, style = MaterialTheme.typography.labelLarge)
                }
            }
        } else {
            null
        },
    )
}

/**
 * The tabs of the signed-in app; each sends the action that opens its screen. Paying has its
 * own large button on Home, so four tabs leave each label room at large font sizes.
 */
enum class Tab(val label: String, val icon: ImageVector, val action: UiAction) {
    Home(Chrome.TAB_HOME, Icons.Filled.Home, UiAction.OpenHome),
    MyCode(Chrome.TAB_MY_CODE, Icons.Filled.AccountBox, UiAction.OpenMyCode),
    History(Chrome.TAB_HISTORY, Icons.AutoMirrored.Filled.List, UiAction.OpenHistory),
    Stores(Chrome.TAB_STORES, Icons.Filled.Place, UiAction.OpenStores),
}

/**
 * The tab a screen belongs to; no tab bar before login, during a payment, and on the sale and
 * points screens (opened from Home, with their own way back).
 */
fun tabFor(screen: ScreenUi): Tab? = when (screen) {
    is ScreenUi.Home -> Tab.Home
    is ScreenUi.MyCode -> Tab.MyCode
    is ScreenUi.History -> Tab.History
    is ScreenUi.Stores -> Tab.Stores
    is ScreenUi.Loading, is ScreenUi.Login, is ScreenUi.Registration, is ScreenUi.Pay -> null
    is ScreenUi.Sale, is ScreenUi.Points -> null
}

/**
 * Tab labels grow with the font size up to 1.3 times, like the system's own navigation bars:
 * beyond that four labels no longer fit side by side. The screens above them grow without limit.
 */
private const val TAB_LABEL_MAX_FONT_SCALE = 1.3f

@Composable
private fun Tabs(current: Tab, onAction: (UiAction) -> Unit) {
    val density = LocalDensity.current
    val tabDensity = Density(density.density, density.fontScale.coerceAtMost(TAB_LABEL_MAX_FONT_SCALE))
    CompositionLocalProvider(LocalDensity provides tabDensity) { TabBar(current, onAction) }
}

@Composable
private fun TabBar(current: Tab, onAction: (UiAction) -> Unit) {
    NavigationBar {
        Tab.entries.forEach { tab ->
            NavigationBarItem(
                selected = tab == current,
                onClick = { if (tab != current) onAction(tab.action) },
                icon = { Icon(tab.icon, contentDescription = null) },
                // One line, smaller rather than broken when four labels do not fit side by side.
                label = { OneLine(tab.label, MaterialTheme.typography.labelMedium) },
                alwaysShowLabel = true,
            )
        }
    }
}
