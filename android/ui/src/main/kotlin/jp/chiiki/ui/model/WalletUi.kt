// What the screens draw: plain Kotlin copies of the core's view model (bindings/src/types.rs),
// field by field, already worded and formatted by the core (¥6,500, 2025年2月28日まで).
// The app module fills them from the generated bindings (ViewModelMapping.kt); the screenshot
// test fills them with samples. Nothing here decides or formats anything.
package jp.chiiki.ui.model

import androidx.compose.runtime.Immutable

/** The whole view model: one screen, and what may be shown over it. */
@Immutable
data class WalletUi(
    val screen: ScreenUi,
    /** Shown above any screen while the server cannot be reached. */
    val offlineBanner: String? = null,
    val alert: AlertUi? = null,
)

/** What only the phone knows, drawn beside the view model. */
@Immutable
data class ShellUi(
    /** The camera is open for the core's scan request (Pay, scanning step). */
    val cameraOpen: Boolean = false,
    /** The resident code stays hidden until the resident unlocks it (biometrics / passcode). */
    val myCodeLocked: Boolean = false,
)

@Immutable
data class AlertUi(
    val message: String,
    /** The retry button's label; no retry button when null. */
    val retryLabel: String? = null,
)

@Immutable
sealed interface ScreenUi {
    data class Loading(val message: String) : ScreenUi
    data class Login(val view: LoginUi) : ScreenUi
    data class Registration(val view: RegistrationUi) : ScreenUi
    data class Home(val view: HomeUi) : ScreenUi
    data class History(val view: HistoryUi) : ScreenUi
    data class Stores(val view: StoresUi) : ScreenUi
    data class Pay(val view: PayUi) : ScreenUi
    data class MyCode(val view: MyCodeUi) : ScreenUi
    data class Sale(val view: SaleUi) : ScreenUi
    data class Points(val view: PointsUi) : ScreenUi
    /**
     * Store mode (a store's staff taking payments) is not in the core yet. When the core offers
     * its views, they become cases here, mapped like the resident ones.
     */
}

@Immutable
data class LoginUi(val error: String? = null, val busy: Boolean = false)

@Immutable
data class RegistrationUi(
    val districts: List<String>,
    val errors: List<FieldErrorUi> = emptyList(),
    val busy: Boolean = false,
)

@Immutable
data class FieldErrorUi(val field: FormFieldUi, val message: String)

/** A field of the registration form, for placing a message beside it. */
enum class FormFieldUi {
    Name, Kana, BirthDate, PostalCode, District, Address, Phone, Password, Pin, PinAgain,
    /** Not about one field. */
    Form,
}

/** The registration form as typed; sent to the core as it is. */
@Immutable
data class RegistrationFormUi(
    val name: String = "",
    val kana: String = "",
    val birthDate: String = "",
    val postalCode: String = "",
    val district: String = "",
    val address: String = "",
    val phone: String = "",
    val email: String = "",
    val password: String = "",
    val pin: String = "",
    val pinAgain: String = "",
)

@Immutable
data class HomeUi(
    val greeting: String,
    val total: String,
    val purses: List<PurseUi>,
    val points: String,
    val lastUpdated: String? = null,
    val pendingPayment: String? = null,
)

@Immutable
data class PurseUi(val label: String, val balance: String, val expiry: String? = null)

@Immutable
data class HistoryUi(
    val rows: List<HistoryRowUi>,
    val canLoadMore: Boolean = false,
    val loading: Boolean = false,
    val emptyMessage: String? = null,
)

@Immutable
data class HistoryRowUi(
    val id: Long,
    val title: String,
    val amount: String,
    val date: String,
    val detail: String? = null,
)

@Immutable
data class StoresUi(
    val query: String,
    val industries: List<ChoiceUi>,
    val districts: List<ChoiceUi>,
    val stores: List<StoreRowUi>,
    val summary: String,
)

/** One option of a filter: `value` goes back to the core when chosen. */
@Immutable
data class ChoiceUi(val value: String, val label: String, val selected: Boolean)

@Immutable
data class StoreRowUi(
    val id: Long,
    val name: String,
    val kana: String,
    val industry: String,
    val district: String,
    val address: String,
)

/** The steps of a payment, as the core words them. */
@Immutable
sealed interface PayUi {
    data class Scanning(val message: String) : PayUi
    data class Checking(val message: String) : PayUi
    data class Amount(
        val storeName: String,
        val district: String,
        val amountText: String,
        val amount: String?,
        val amountFixed: Boolean,
        val pointsChoice: String?,
        val usePoints: Boolean,
        val canContinue: Boolean,
    ) : PayUi
    data class Pin(val storeName: String, val district: String, val amount: String) : PayUi
    data class Confirming(val storeName: String, val amount: String, val message: String) : PayUi
    data class Receipt(
        val storeName: String,
        val amount: String,
        val paidAt: String,
        val legs: List<LegUi>,
        val balanceAfter: String,
    ) : PayUi
}

@Immutable
data class LegUi(val label: String, val amount: String)

@Immutable
data class MyCodeUi(
    /** The QR symbol as the core drew it (SVG, black on white). */
    val svg: String?,
    val payload: String?,
    val caption: String,
    val updated: String? = null,
    val error: String? = null,
)

/** The premium set sale: windows, application, lottery result, what to pay, additional sale. */
@Immutable
data class SaleUi(
    val title: String,
    /** Shown alone while nothing is known yet. */
    val loading: String? = null,
    val offer: String? = null,
    val status: String? = null,
    val schedule: List<SaleScheduleUi> = emptyList(),
    val application: String? = null,
    val result: String? = null,
    val orders: List<SaleOrderUi> = emptyList(),
    val held: String? = null,
    val additional: String? = null,
    /** The numbers of sets to pick from; empty when nothing can be applied for or bought. */
    val setChoices: List<SetChoiceUi> = emptyList(),
    val applyLabel: String? = null,
    val withdrawLabel: String? = null,
    val buyLabel: String? = null,
    /** Set while a request waits for the server; the buttons are disabled meanwhile. */
    val busy: String? = null,
    val notice: String? = null,
)

@Immutable
data class SaleScheduleUi(val label: String, val dates: String)

@Immutable
data class SetChoiceUi(val sets: Long, val label: String, val selected: Boolean)

@Immutable
data class SaleOrderUi(
    val orderId: Long,
    val title: String,
    val amount: String,
    val status: String,
    val deadline: String? = null,
    val howToPay: List<String> = emptyList(),
    val paidAt: String? = null,
)

/** The community points: what can be spent, when it lapses, and the activities that earned it. */
@Immutable
data class PointsUi(
    /** `1,200ポイント` */
    val balance: String,
    /** How points are used, in one sentence. */
    val explanation: String,
    /** Earliest expiry first. */
    val lots: List<PointsLotUi> = emptyList(),
    /** Newest first. */
    val activities: List<PointsActivityUi> = emptyList(),
    /** The last claim's outcome. */
    val notice: String? = null,
    /** Shown while the points are being fetched or a claim is on its way. */
    val busy: String? = null,
)

@Immutable
data class PointsLotUi(val points: String, val expires: String)

@Immutable
data class PointsActivityUi(
    val event: String,
    val place: String,
    val points: String,
    val earnedOn: String,
    val expires: String,
)
