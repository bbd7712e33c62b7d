// The generated bindings' view model (jp.chiiki.ffi) copied into the screens' plain models
// (jp.chiiki.ui.model), field by field, and the screens' actions turned into the core's events.
// No wording, no formatting, no decisions: those are the core's.
//
// This folder (bridge/) holds only platform-free Kotlin, no android.*: tests/screens compiles it
// on a desktop JVM against the JVM flavour of the same generated bindings, and tests it there.
package jp.chiiki.app.bridge

import jp.chiiki.ffi.AlertView
import jp.chiiki.ffi.ChoiceView
import jp.chiiki.ffi.Event
import jp.chiiki.ffi.FormField
import jp.chiiki.ffi.HistoryView
import jp.chiiki.ffi.HomeView
import jp.chiiki.ffi.MyCodeView
import jp.chiiki.ffi.PayView
import jp.chiiki.ffi.PointsView
import jp.chiiki.ffi.RegistrationForm
import jp.chiiki.ffi.RegistrationView
import jp.chiiki.ffi.SaleView
import jp.chiiki.ffi.ScreenView
import jp.chiiki.ffi.StoresView
import jp.chiiki.ffi.ViewModel
import jp.chiiki.ui.model.AlertUi
import jp.chiiki.ui.model.ChoiceUi
import jp.chiiki.ui.model.FieldErrorUi
import jp.chiiki.ui.model.FormFieldUi
import jp.chiiki.ui.model.HistoryRowUi
import jp.chiiki.ui.model.HistoryUi
import jp.chiiki.ui.model.HomeUi
import jp.chiiki.ui.model.LegUi
import jp.chiiki.ui.model.LoginUi
import jp.chiiki.ui.model.MyCodeUi
import jp.chiiki.ui.model.PayUi
import jp.chiiki.ui.model.PointsActivityUi
import jp.chiiki.ui.model.PointsLotUi
import jp.chiiki.ui.model.PointsUi
import jp.chiiki.ui.model.PurseUi
import jp.chiiki.ui.model.RegistrationFormUi
import jp.chiiki.ui.model.RegistrationUi
import jp.chiiki.ui.model.SaleOrderUi
import jp.chiiki.ui.model.SaleScheduleUi
import jp.chiiki.ui.model.SaleUi
import jp.chiiki.ui.model.ScreenUi
import jp.chiiki.ui.model.SetChoiceUi
import jp.chiiki.ui.model.StoreRowUi
import jp.chiiki.ui.model.StoresUi
import jp.chiiki.ui.model.UiAction
import jp.chiiki.ui.model.WalletUi

fun ViewModel.toUi(): WalletUi = WalletUi(
    screen = screen.toUi(),
    offlineBanner = offlineBanner,
    alert = alert?.toUi(),
)

private fun AlertView.toUi() = AlertUi(message = message, retryLabel = retryLabel)

private fun ScreenView.toUi(): ScreenUi = when (this) {
    is ScreenView.Loading -> ScreenUi.Loading(message)
    is ScreenView.Login -> ScreenUi.Login(LoginUi(error = view.error, busy = view.busy))
    is ScreenView.Registration -> ScreenUi.Registration(view.toUi())
    is ScreenView.Home -> ScreenUi.Home(view.toUi())
    is ScreenView.History -> ScreenUi.History(view.toUi())
    is ScreenView.Stores -> ScreenUi.Stores(view.toUi())
    is ScreenView.Pay -> ScreenUi.Pay(view.toUi())
    is ScreenView.MyCode -> ScreenUi.MyCode(view.toUi())
    is ScreenView.Sale -> ScreenUi.Sale(view.toUi())
    is ScreenView.Points -> ScreenUi.Points(view.toUi())
}

private fun RegistrationView.toUi() = RegistrationUi(
    districts = districts,
    errors = errors.map { FieldErrorUi(it.field.toUi(), it.message) },
    busy = busy,
)

private fun FormField.toUi(): FormFieldUi = when (this) {
    FormField.NAME -> FormFieldUi.Name
    FormField.KANA -> FormFieldUi.Kana
    FormField.BIRTH_DATE -> FormFieldUi.BirthDate
    FormField.POSTAL_CODE -> FormFieldUi.PostalCode
    FormField.DISTRICT -> FormFieldUi.District
    FormField.ADDRESS -> FormFieldUi.Address
    FormField.PHONE -> FormFieldUi.Phone
    FormField.PASSWORD -> FormFieldUi.Password
    FormField.PIN -> FormFieldUi.Pin
    FormField.PIN_AGAIN -> FormFieldUi.PinAgain
    FormField.FORM -> FormFieldUi.Form
}

private fun HomeView.toUi() = HomeUi(
    greeting = greeting,
    total = total,
    purses = purses.map { PurseUi(it.label, it.balance, it.expiry) },
    points = points,
    lastUpdated = lastUpdated,
    pendingPayment = pendingPayment,
)

private fun HistoryView.toUi() = HistoryUi(
    rows = rows.map { HistoryRowUi(it.id, it.title, it.amount, it.date, it.detail) },
    canLoadMore = canLoadMore,
    loading = loading,
    emptyMessage = emptyMessage,
)

private fun StoresView.toUi() = StoresUi(
    query = query,
    industries = industries.map { it.toUi() },
    districts = districts.map { it.toUi() },
    stores = stores.map { StoreRowUi(it.id, it.name, it.kana, it.industry, it.district, it.address) },
    summary = summary,
)

private fun ChoiceView.toUi() = ChoiceUi(value = value, label = label, selected = selected)

private fun PayView.toUi(): PayUi = when (this) {
    is PayView.Scanning -> PayUi.Scanning(message)
    is PayView.Checking -> PayUi.Checking(message)
    is PayView.Amount -> PayUi.Amount(
        storeName = storeName,
        district = district,
        amountText = amountText,
        amount = amount,
        amountFixed = amountFixed,
        pointsChoice = pointsChoice,
        usePoints = usePoints,
        canContinue = canContinue,
    )
    is PayView.Pin -> PayUi.Pin(storeName, district, amount)
    is PayView.Confirming -> PayUi.Confirming(storeName, amount, message)
    is PayView.Receipt -> PayUi.Receipt(
        storeName = storeName,
        amount = amount,
        paidAt = paidAt,
        legs = legs.map { LegUi(it.label, it.amount) },
        balanceAfter = balanceAfter,
    )
}

private fun MyCodeView.toUi() = MyCodeUi(
    svg = svg,
    payload = payload,
    caption = caption,
    updated = updated,
    error = error,
)

private fun SaleView.toUi() = SaleUi(
    title = title,
    loading = loading,
    offer = offer,
    status = status,
    schedule = schedule.map { SaleScheduleUi(it.label, it.dates) },
    application = application,
    result = result,
    orders = orders.map {
        SaleOrderUi(
            orderId = it.orderId,
            title = it.title,
            amount = it.amount,
            status = it.status,
            deadline = it.deadline,
            howToPay = it.howToPay,
            paidAt = it.paidAt,
        )
    },
    held = held,
    additional = additional,
    setChoices = setChoices.map { SetChoiceUi(it.sets, it.label, it.selected) },
    applyLabel = applyLabel,
    withdrawLabel = withdrawLabel,
    buyLabel = buyLabel,
    busy = busy,
    notice = notice,
)

private fun PointsView.toUi() = PointsUi(
    balance = balance,
    explanation = explanation,
    lots = lots.map { PointsLotUi(points = it.points, expires = it.expires) },
    activities = activities.map {
        PointsActivityUi(
            event = it.event,
            place = it.place,
            points = it.points,
            earnedOn = it.earnedOn,
            expires = it.expires,
        )
    },
    notice = notice,
    busy = busy,
)

/**
 * The core's event for a screen action. Null for the actions the shell carries out itself
 * first (closing the camera answers the core's scan request; the resident code waits for the
 * phone's unlock); the shell sends their events when those steps are done.
 */
fun UiAction.toEvent(): Event? = when (this) {
    UiAction.Refresh -> Event.RefreshRequested
    UiAction.Retry -> Event.RetryTapped
    UiAction.DismissAlert -> Event.AlertDismissed
    UiAction.OpenLogin -> Event.LoginOpened
    UiAction.OpenRegistration -> Event.RegistrationOpened
    is UiAction.SubmitLogin -> Event.LoginSubmitted(login, password)
    is UiAction.SubmitRegistration -> Event.RegistrationSubmitted(form.toFfi())
    UiAction.LogOut -> Event.LogoutTapped
    UiAction.OpenHome -> Event.HomeOpened
    UiAction.OpenHistory -> Event.HistoryOpened
    UiAction.LoadMoreHistory -> Event.MoreHistoryRequested
    UiAction.OpenStores -> Event.StoresOpened
    is UiAction.SearchStores -> Event.StoreSearchTyped(query)
    is UiAction.ChooseIndustry -> Event.IndustryChosen(value)
    is UiAction.ChooseDistrict -> Event.DistrictChosen(value)
    UiAction.Pay -> Event.PayTapped
    is UiAction.AmountTyped -> Event.AmountEntered(text)
    is UiAction.UsePoints -> Event.UsePointsChosen(on)
    UiAction.ConfirmAmount -> Event.AmountConfirmed
    is UiAction.SubmitPin -> Event.PinEntered(pin)
    UiAction.CancelPayment -> Event.PaymentCancelled
    UiAction.OpenSale -> Event.SaleOpened
    is UiAction.ChooseSets -> Event.SetsChosen(sets)
    UiAction.ApplyForSets -> Event.ApplySubmitted
    UiAction.WithdrawApplication -> Event.WithdrawTapped
    UiAction.BuySets -> Event.AdditionalPurchaseTapped
    UiAction.OpenPoints -> Event.PointsOpened
    UiAction.CancelScan, UiAction.OpenMyCode -> null
}

private fun RegistrationFormUi.toFfi() = RegistrationForm(
    name = name,
    kana = kana,
    birthDate = birthDate,
    postalCode = postalCode,
    district = district,
    address = address,
    phone = phone,
    email = email,
    password = password,
    pin = pin,
    pinAgain = pinAgain,
)
