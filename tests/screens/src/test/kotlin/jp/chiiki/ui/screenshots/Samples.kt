// Sample view models for the screenshots, worded exactly as the core words them
// (core/src/app/view.rs and messages.rs): the Midori programme's districts and industries, the
// demo resident, a payment at a bakery in 大間々町.
package jp.chiiki.ui.screenshots

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
import jp.chiiki.ui.model.RegistrationUi
import jp.chiiki.ui.model.SaleOrderUi
import jp.chiiki.ui.model.SaleScheduleUi
import jp.chiiki.ui.model.SaleUi
import jp.chiiki.ui.model.ScreenUi
import jp.chiiki.ui.model.SetChoiceUi
import jp.chiiki.ui.model.ShellUi
import jp.chiiki.ui.model.StoreRowUi
import jp.chiiki.ui.model.StoresUi
import jp.chiiki.ui.model.WalletUi

/** One screenshot: a file name, what the core shows, what the shell adds, how it is drawn. */
data class Sample(
    val name: String,
    val ui: WalletUi,
    val shell: ShellUi = ShellUi(),
    val fontScale: Float = 1f,
    val dark: Boolean = false,
)

private const val OFFLINE = "インターネットにつながっていません。表示は、最後につながったときのものです。"
private val DISTRICTS = listOf("笠懸町", "大間々町", "東町")
private const val BAKERY = "こむぎ堂ベーカリー"

private val home = HomeUi(
    greeting = "緑 花子 さん",
    total = "¥11,540",
    purses = listOf(
        PurseUi("チャージ", "¥3,000"),
        PurseUi("プレミアム付商品券", "¥8,540", "2027年2月22日まで"),
    ),
    points = "120ポイント",
    lastUpdated = "最終更新 2026年11月25日 11:48",
)

private val history = HistoryUi(
    rows = listOf(
        HistoryRowUi(31, BAKERY, "-¥1,200", "2026年11月25日 11:48", "プレミアム分 ¥1,200"),
        HistoryRowUi(30, "みどりマート大間々店", "-¥3,460", "2026年11月24日 17:05", "プレミアム分 ¥3,000、ポイント ¥460"),
        HistoryRowUi(29, "チャージ", "+¥3,000", "2026年11月20日 10:12"),
        HistoryRowUi(28, "みどりマート大間々店（返金）", "+¥500", "2026年11月18日 15:40", "プレミアム分 ¥500"),
        HistoryRowUi(27, "商品券の購入", "+¥13,000", "2026年11月1日 9:30"),
    ),
    canLoadMore = true,
)

private val industries = listOf(
    "supermarket" to "スーパー・食料品", "convenience" to "コンビニエンスストア", "restaurant" to "飲食店",
    "cafe" to "喫茶・カフェ", "bakery" to "パン・菓子", "drugstore" to "ドラッグストア・薬局",
).map { (code, label) -> ChoiceUi(code, label, selected = code == "bakery") }

private val stores = StoresUi(
    query = "",
    industries = industries,
    districts = DISTRICTS.map { ChoiceUi(it, it, selected = false) },
    stores = listOf(
        StoreRowUi(7, BAKERY, "コムギドウベーカリー", "パン・菓子", "大間々町", "大間々町大間々1012-3"),
        StoreRowUi(12, "ぱんの木", "パンノキ", "パン・菓子", "笠懸町", "笠懸町阿左美2240"),
        StoreRowUi(15, "東町あんこ屋", "アズマチョウアンコヤ", "パン・菓子", "東町", "東町花輪88"),
    ),
    summary = "3件のお店",
)

private val saleSchedule = listOf(
    SaleScheduleUi("申込期間", "2026年9月1日〜2026年9月21日"),
    SaleScheduleUi("当選した方のお支払い", "2026年10月1日〜2026年10月30日"),
    SaleScheduleUi("追加販売（先着順）", "2026年10月31日〜2026年11月30日"),
)

private val saleApplying = SaleUi(
    title = "みどり市プレミアム付電子地域通貨",
    offer = "1セット ¥5,000で ¥6,500分の商品券になります。お一人2セットまでです。",
    status = "お申し込みを受け付けています（2026年9月21日まで）。期間中は何度でも変更や取り消しができます。",
    schedule = saleSchedule,
    application = "2セット（お支払い ¥10,000、¥13,000分）を申し込んでいます。",
    setChoices = listOf(
        SetChoiceUi(1, "1セット（お支払い ¥5,000、¥6,500分）", selected = false),
        SetChoiceUi(2, "2セット（お支払い ¥10,000、¥13,000分）", selected = true),
    ),
    applyLabel = "この内容に変更する",
    withdrawLabel = "お申し込みを取り消す",
    notice = "2セットのお申し込みを受け付けました。",
)

private val saleWon = SaleUi(
    title = "みどり市プレミアム付電子地域通貨",
    offer = "1セット ¥5,000で ¥6,500分の商品券になります。お一人2セットまでです。",
    status = "抽選が終わりました。当選した方は2026年10月30日までにお支払いください。",
    schedule = saleSchedule,
    application = "お申し込み: 2セット（お支払い ¥10,000、¥13,000分）",
    result = "抽選の結果、2セットのうち1セットが当選しました。",
    orders = listOf(
        SaleOrderUi(
            orderId = 41,
            title = "当選分 1セット",
            amount = "¥5,000（¥6,500分の商品券になります）",
            status = "お支払い待ち",
            deadline = "2026年10月30日まで",
            howToPay = listOf(
                "市役所・各支所の窓口で現金で（お申し込み番号 41 をお伝えください）",
                "オンライン決済で（お申し込み番号 41 を入力してください）",
            ),
        ),
    ),
    held = "お持ちのセット 1セット（お一人2セットまで）",
    additional = "残ったセットは2026年10月31日から先着順で販売します。",
)

private val points = PointsUi(
    balance = "1,300ポイント",
    explanation = "1ポイント = 1円として、お店でのお支払いに使えます（お支払いのときに「ポイントを使う」を選んでください）。",
    lots = listOf(
        PointsLotUi("1,200ポイント", "2026年12月31日まで使えます"),
        PointsLotUi("100ポイント", "2027年11月21日まで使えます"),
    ),
    activities = listOf(
        PointsActivityUi("河川敷クリーン作戦", "渡良瀬川河川敷", "+100ポイント", "2026年11月22日", "2027年11月21日まで"),
        PointsActivityUi("ながめ余興場 秋の清掃", "ながめ余興場", "+200ポイント", "2026年10月4日", "2027年10月3日まで"),
    ),
    notice = "「河川敷クリーン作戦」に参加して100ポイントを受け取りました。",
)

private fun pay(step: PayUi) = WalletUi(ScreenUi.Pay(step))

/** Every screen the core offers, and the states worth seeing. */
fun samples(myCodeSvg: String): List<Sample> = listOf(
    Sample("loading", WalletUi(ScreenUi.Loading("読み込んでいます…"))),
    Sample("login", WalletUi(ScreenUi.Login(LoginUi()))),
    Sample(
        "login-error",
        WalletUi(ScreenUi.Login(LoginUi(error = "電話番号かパスワードがちがいます。お確かめのうえ、もう一度入れてください。"))),
    ),
    Sample(
        "registration",
        WalletUi(
            ScreenUi.Registration(
                RegistrationUi(
                    districts = DISTRICTS,
                    errors = listOf(
                        FieldErrorUi(FormFieldUi.Name, "お名前を入れてください。"),
                        FieldErrorUi(FormFieldUi.PostalCode, "郵便番号を7けたの数字で入れてください。"),
                    ),
                ),
            ),
        ),
    ),
    Sample("home", WalletUi(ScreenUi.Home(home))),
    Sample(
        "home-offline-pending",
        WalletUi(
            ScreenUi.Home(home.copy(pendingPayment = "${BAKERY}での ¥1,200 のお支払いを確認中です。")),
            offlineBanner = OFFLINE,
        ),
    ),
    Sample("home-large-text", WalletUi(ScreenUi.Home(home)), fontScale = 2f),
    Sample("home-dark", WalletUi(ScreenUi.Home(home)), dark = true),
    Sample(
        "alert-retry",
        WalletUi(
            ScreenUi.Home(home),
            alert = AlertUi(
                "インターネットにつながりませんでした。電波の届く所で、もう一度ためしてください。",
                retryLabel = "もう一度ためす",
            ),
        ),
    ),
    Sample("history", WalletUi(ScreenUi.History(history))),
    Sample("history-large-text", WalletUi(ScreenUi.History(history)), fontScale = 2f),
    Sample("history-empty", WalletUi(ScreenUi.History(HistoryUi(emptyList(), emptyMessage = "まだ記録はありません。")))),
    Sample("stores", WalletUi(ScreenUi.Stores(stores))),
    Sample(
        "pay-scanning",
        pay(PayUi.Scanning("お店のQRコードを、カメラで読み取ってください。")),
        shell = ShellUi(cameraOpen = true),
    ),
    Sample("pay-checking", pay(PayUi.Checking("お店を確認しています…"))),
    Sample(
        "pay-amount",
        pay(
            PayUi.Amount(
                storeName = BAKERY, district = "大間々町", amountText = "1200", amount = "¥1,200",
                amountFixed = false, pointsChoice = "ポイントを使う（120ポイント）", usePoints = false,
                canContinue = true,
            ),
        ),
    ),
    Sample("pay-pin", pay(PayUi.Pin(BAKERY, "大間々町", "¥1,200"))),
    Sample("pay-confirming", pay(PayUi.Confirming(BAKERY, "¥1,200", "確認中です。このままお待ちください。"))),
    Sample(
        "pay-receipt",
        pay(
            PayUi.Receipt(
                storeName = BAKERY, amount = "¥1,200", paidAt = "2026年11月25日 11:48",
                legs = listOf(LegUi("プレミアム分", "¥1,200")), balanceAfter = "¥10,340",
            ),
        ),
    ),
    Sample("sale-applying", WalletUi(ScreenUi.Sale(saleApplying))),
    Sample("sale-won", WalletUi(ScreenUi.Sale(saleWon))),
    Sample("sale-won-large-text", WalletUi(ScreenUi.Sale(saleWon)), fontScale = 2f),
    Sample("points", WalletUi(ScreenUi.Points(points))),
    Sample("points-large-text", WalletUi(ScreenUi.Points(points)), fontScale = 2f),
    Sample(
        "my-code",
        WalletUi(
            ScreenUi.MyCode(
                MyCodeUi(myCodeSvg, payload = null, caption = "お店の人に、この画面を見せてください。", updated = "11:48 に更新"),
            ),
        ),
    ),
    Sample(
        "my-code-locked",
        WalletUi(ScreenUi.MyCode(MyCodeUi(null, null, caption = "コードを用意しています…"))),
        shell = ShellUi(myCodeLocked = true),
    ),
)
