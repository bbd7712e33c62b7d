// What the resident did on a screen. The app module turns each into the core's `Event` (or, for
// the few that only the phone can carry out, into a platform step first: closing the camera,
// unlocking the resident code). Screens never decide what an action leads to.
package jp.chiiki.ui.model

sealed interface UiAction {
    data object Refresh : UiAction
    data object Retry : UiAction
    data object DismissAlert : UiAction

    data object OpenLogin : UiAction
    data object OpenRegistration : UiAction
    data class SubmitLogin(val login: String, val password: String) : UiAction
    data class SubmitRegistration(val form: RegistrationFormUi) : UiAction
    data object LogOut : UiAction

    data object OpenHome : UiAction
    data object OpenHistory : UiAction
    data object LoadMoreHistory : UiAction

    data object OpenStores : UiAction
    data class SearchStores(val query: String) : UiAction
    /** A `ChoiceUi.value` of the industries, or null to clear the filter. */
    data class ChooseIndustry(val value: String?) : UiAction
    /** A `ChoiceUi.value` of the districts, or null to clear the filter. */
    data class ChooseDistrict(val value: String?) : UiAction

    data object Pay : UiAction
    /** "やめる" while the camera is open: the shell closes the camera and tells the core. */
    data object CancelScan : UiAction
    data class AmountTyped(val text: String) : UiAction
    data class UsePoints(val on: Boolean) : UiAction
    data object ConfirmAmount : UiAction
    data class SubmitPin(val pin: String) : UiAction
    data object CancelPayment : UiAction

    /** Show the resident code: the shell asks for biometrics or the passcode first. */
    data object OpenMyCode : UiAction

    data object OpenSale : UiAction
    /** A `SetChoiceUi.sets`. */
    data class ChooseSets(val sets: Long) : UiAction
    data object ApplyForSets : UiAction
    data object WithdrawApplication : UiAction
    data object BuySets : UiAction

    data object OpenPoints : UiAction
}

/**
 * What the system back gesture means on each screen: the same action as the screen's own
 * "back" or "やめる" control. Null where back leaves the app (loading, login, home). During a
 * payment it is a cancel, and the core decides whether one is still possible (it is not once
 * the PIN was sent).
 */
fun WalletUi.backAction(cameraOpen: Boolean): UiAction? = when (val screen = screen) {
    is ScreenUi.Loading, is ScreenUi.Login, is ScreenUi.Home -> null
    is ScreenUi.Registration -> UiAction.OpenLogin
    is ScreenUi.History, is ScreenUi.Stores, is ScreenUi.MyCode, is ScreenUi.Sale, is ScreenUi.Points ->
        UiAction.OpenHome
    is ScreenUi.Pay -> when (screen.view) {
        is PayUi.Scanning -> if (cameraOpen) UiAction.CancelScan else UiAction.CancelPayment
        is PayUi.Receipt -> UiAction.OpenHome
        else -> UiAction.CancelPayment
    }
}
