// The Android app's platform-free glue (android/app/.../bridge) against the generated bindings:
// the view model arrives in the screens' models unchanged, every screen action becomes the
// core's event, and the device key's public half is the 65-byte SEC1 point the core sends.
package jp.chiiki.ui.screenshots

import java.math.BigInteger
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.security.spec.ECPoint
import java.security.spec.ECPublicKeySpec
import jp.chiiki.app.bridge.Sec1
import jp.chiiki.app.bridge.toEvent
import jp.chiiki.app.bridge.toUi
import jp.chiiki.ffi.AlertView
import jp.chiiki.ffi.Event
import jp.chiiki.ffi.FieldErrorView
import jp.chiiki.ffi.FormField
import jp.chiiki.ffi.HomeView
import jp.chiiki.ffi.LegView
import jp.chiiki.ffi.PayView
import jp.chiiki.ffi.PointsActivityView
import jp.chiiki.ffi.PointsLotView
import jp.chiiki.ffi.PointsView
import jp.chiiki.ffi.PurseView
import jp.chiiki.ffi.RegistrationForm
import jp.chiiki.ffi.RegistrationView
import jp.chiiki.ffi.ScreenView
import jp.chiiki.ffi.ViewModel
import jp.chiiki.ui.model.AlertUi
import jp.chiiki.ui.model.FieldErrorUi
import jp.chiiki.ui.model.FormFieldUi
import jp.chiiki.ui.model.HomeUi
import jp.chiiki.ui.model.LegUi
import jp.chiiki.ui.model.PayUi
import jp.chiiki.ui.model.PointsActivityUi
import jp.chiiki.ui.model.PointsLotUi
import jp.chiiki.ui.model.PointsUi
import jp.chiiki.ui.model.PurseUi
import jp.chiiki.ui.model.RegistrationFormUi
import jp.chiiki.ui.model.RegistrationUi
import jp.chiiki.ui.model.ScreenUi
import jp.chiiki.ui.model.UiAction
import jp.chiiki.ui.model.WalletUi
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class BridgeTest {
    @Test
    fun the_view_model_reaches_the_screens_field_by_field() {
        val home = ViewModel(
            screen = ScreenView.Home(
                HomeView(
                    greeting = "緑 花子 さん",
                    total = "¥11,540",
                    purses = listOf(PurseView("プレミアム付商品券", "¥8,540", "2027年2月22日まで")),
                    points = "120ポイント",
                    lastUpdated = "最終更新 2026年11月25日 11:48",
                    pendingPayment = null,
                ),
            ),
            offlineBanner = "インターネットにつながっていません。",
            alert = AlertView("うまくいきませんでした。", "もう一度ためす"),
        )
        assertEquals(
            WalletUi(
                screen = ScreenUi.Home(
                    HomeUi(
                        greeting = "緑 花子 さん",
                        total = "¥11,540",
                        purses = listOf(PurseUi("プレミアム付商品券", "¥8,540", "2027年2月22日まで")),
                        points = "120ポイント",
                        lastUpdated = "最終更新 2026年11月25日 11:48",
                    ),
                ),
                offlineBanner = "インターネットにつながっていません。",
                alert = AlertUi("うまくいきませんでした。", "もう一度ためす"),
            ),
            home.toUi(),
        )

        val receipt = ViewModel(
            ScreenView.Pay(PayView.Receipt("こむぎ堂", "¥1,200", "2026年11月25日 11:48", listOf(LegView("プレミアム分", "¥1,200")), "¥10,340")),
            null,
            null,
        )
        assertEquals(
            ScreenUi.Pay(PayUi.Receipt("こむぎ堂", "¥1,200", "2026年11月25日 11:48", listOf(LegUi("プレミアム分", "¥1,200")), "¥10,340")),
            receipt.toUi().screen,
        )

        val registration = ViewModel(
            ScreenView.Registration(
                RegistrationView(listOf("大間々町"), FormField.entries.map { FieldErrorView(it, it.name) }, busy = true),
            ),
            null,
            null,
        )
        assertEquals(
            ScreenUi.Registration(
                RegistrationUi(
                    listOf("大間々町"),
                    FormField.entries.zip(FormFieldUi.entries).map { (ffi, ui) -> FieldErrorUi(ui, ffi.name) },
                    busy = true,
                ),
            ),
            registration.toUi().screen,
            "form fields map in order, one to one",
        )

        val points = ViewModel(
            ScreenView.Points(
                PointsView(
                    balance = "1,300ポイント",
                    explanation = "1ポイント = 1円として使えます。",
                    lots = listOf(PointsLotView("1,200ポイント", "2027年3月31日まで使えます")),
                    activities = listOf(
                        PointsActivityView("河川敷クリーン作戦", "渡良瀬川河川敷", "+100ポイント", "2026年11月22日", "2027年11月22日まで"),
                    ),
                    notice = "100ポイントを受け取りました。",
                    busy = "ポイントを確かめています…",
                ),
            ),
            null,
            null,
        )
        assertEquals(
            ScreenUi.Points(
                PointsUi(
                    balance = "1,300ポイント",
                    explanation = "1ポイント = 1円として使えます。",
                    lots = listOf(PointsLotUi("1,200ポイント", "2027年3月31日まで使えます")),
                    activities = listOf(
                        PointsActivityUi("河川敷クリーン作戦", "渡良瀬川河川敷", "+100ポイント", "2026年11月22日", "2027年11月22日まで"),
                    ),
                    notice = "100ポイントを受け取りました。",
                    busy = "ポイントを確かめています…",
                ),
            ),
            points.toUi().screen,
        )
    }

    @Test
    fun every_screen_action_becomes_the_cores_event_except_the_shells_own() {
        val form = RegistrationFormUi(name = "山田 花子", pin = "2468", pinAgain = "2468")
        val expected = mapOf(
            UiAction.Refresh to Event.RefreshRequested,
            UiAction.Retry to Event.RetryTapped,
            UiAction.DismissAlert to Event.AlertDismissed,
            UiAction.OpenLogin to Event.LoginOpened,
            UiAction.OpenRegistration to Event.RegistrationOpened,
            UiAction.SubmitLogin("09012345678", "pw") to Event.LoginSubmitted("09012345678", "pw"),
            UiAction.SubmitRegistration(form) to Event.RegistrationSubmitted(
                RegistrationForm("山田 花子", "", "", "", "", "", "", "", "", "2468", "2468"),
            ),
            UiAction.LogOut to Event.LogoutTapped,
            UiAction.OpenHome to Event.HomeOpened,
            UiAction.OpenHistory to Event.HistoryOpened,
            UiAction.LoadMoreHistory to Event.MoreHistoryRequested,
            UiAction.OpenStores to Event.StoresOpened,
            UiAction.SearchStores("パン") to Event.StoreSearchTyped("パン"),
            UiAction.ChooseIndustry("bakery") to Event.IndustryChosen("bakery"),
            UiAction.ChooseIndustry(null) to Event.IndustryChosen(null),
            UiAction.ChooseDistrict("東町") to Event.DistrictChosen("東町"),
            UiAction.Pay to Event.PayTapped,
            UiAction.AmountTyped("１２００") to Event.AmountEntered("１２００"),
            UiAction.UsePoints(true) to Event.UsePointsChosen(true),
            UiAction.ConfirmAmount to Event.AmountConfirmed,
            UiAction.SubmitPin("2468") to Event.PinEntered("2468"),
            UiAction.CancelPayment to Event.PaymentCancelled,
            UiAction.OpenSale to Event.SaleOpened,
            UiAction.ChooseSets(2) to Event.SetsChosen(2),
            UiAction.ApplyForSets to Event.ApplySubmitted,
            UiAction.WithdrawApplication to Event.WithdrawTapped,
            UiAction.BuySets to Event.AdditionalPurchaseTapped,
            UiAction.OpenPoints to Event.PointsOpened,
        )
        expected.forEach { (action, event) -> assertEquals(event, action.toEvent(), "$action") }
        // The camera's cancel answers the scan request; the resident code waits for the unlock.
        assertNull(UiAction.CancelScan.toEvent())
        assertNull(UiAction.OpenMyCode.toEvent())
    }

    @Test
    fun the_device_keys_public_half_is_the_65_byte_sec1_point_even_with_short_coordinates() {
        // A seeded generator, so that the run is the same every time; about 1 key in 128 has a
        // coordinate below 2^248 (a leading zero byte), which is where padding goes wrong.
        val random = SecureRandom.getInstance("SHA1PRNG").apply { setSeed(20261125L) }
        val generator = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1"), random) }
        val factory = KeyFactory.getInstance("EC")
        var tested = 0
        var shortCoordinates = 0
        while (shortCoordinates < 3 && tested < 5000) {
            val pair = generator.generateKeyPair()
            val key = pair.public as ECPublicKey
            if (key.w.affineX.bitLength() <= 248 || key.w.affineY.bitLength() <= 248) shortCoordinates++
            tested++
            val point = Sec1.uncompressedPoint(key)

            assertEquals(65, point.size)
            assertEquals(0x04.toByte(), point[0])
            val decoded = ECPoint(BigInteger(1, point.copyOfRange(1, 33)), BigInteger(1, point.copyOfRange(33, 65)))
            val back = factory.generatePublic(ECPublicKeySpec(decoded, key.params))
            assertArrayEquals(key.encoded, back.encoded)

            // What Keystore's SHA256withECDSA returns (DER) verifies against the point sent.
            val message = "chiiki-resident:$tested".toByteArray()
            val der = Signature.getInstance("SHA256withECDSA").run {
                initSign(pair.private)
                update(message)
                sign()
            }
            assertEquals(0x30.toByte(), der[0], "ASN.1 DER sequence")
            assertTrue(
                Signature.getInstance("SHA256withECDSA").run {
                    initVerify(back)
                    update(message)
                    verify(der)
                },
            )
        }
        assertEquals(3, shortCoordinates, "keys with a short coordinate among $tested")
    }
}
