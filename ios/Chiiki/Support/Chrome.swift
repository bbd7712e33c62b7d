// The fixed words around the view model: tab names, field labels, button titles and the
// labels VoiceOver reads for icons. Everything that changes with the resident's situation
// (balances, dates, messages, errors) comes from the core's view model instead.
//
// The core's view model carries no labels yet, so these live here, one place, and the Android
// shell keeps the same words in android/ui/.../Chrome.kt. Keep the two in step.

enum Chrome {
    static let appName = "みどり地域通貨"

    // Tabs and titles
    static let tabHome = "ホーム"
    static let tabMyCode = "マイコード"
    static let tabHistory = "りれき"
    static let tabStores = "お店"
    static let titleLogin = "ログイン"
    static let titleRegistration = "新しく登録する"
    static let titleHistory = "お支払いのりれき"
    static let titleStores = "使えるお店"
    static let titlePay = "お支払い"
    static let titleMyCode = "マイコード"

    // Home
    static let balanceTotal = "使える金額"
    static let points = "ポイント"
    static let payButton = "QRコードで支払う"
    static let myCodeButton = "マイコードを見せる"
    static let refresh = "最新の情報にする"
    static let logOut = "ログアウト"

    // Login and registration
    static let phone = "電話番号"
    static let password = "パスワード"
    static let logIn = "ログインする"
    static let toRegistration = "はじめての方は、こちらから登録"
    static let name = "お名前"
    static let kana = "ふりがな"
    static let birthDate = "生年月日（例: 1980年4月1日）"
    static let postalCode = "郵便番号"
    static let district = "お住まいの地区"
    static let address = "住所（地区より後）"
    static let email = "メールアドレス（なくてもかまいません）"
    static let pin = "暗証番号（4〜6けたの数字）"
    static let pinAgain = "暗証番号（もう一度）"
    static let register = "登録する"
    static let toLogin = "登録がお済みの方は、ログイン"

    // Stores
    static let searchStores = "お店の名前でさがす"
    static let industry = "業種"
    static let districtFilter = "地区"
    static let all = "すべて"

    // Pay
    static let amount = "金額（円）"
    static let amountToPay = "お支払い金額"
    static let next = "次へ"
    static let enterPin = "暗証番号を入れてください"
    static let payNow = "支払う"
    static let cancel = "やめる"
    static let paid = "お支払いが終わりました"
    static let balanceAfter = "お支払い後の残高"
    static let done = "ホームにもどる"
    static let cameraPreview = "カメラの映像。お店のQRコードを枠の中に入れてください"

    // The premium set sale
    static let saleButton = "プレミアム付商品券の申し込み"
    static let titleSale = "プレミアム付商品券"
    static let saleSchedule = "日程"
    static let saleSets = "セット数"
    static let saleToPay = "お支払い"
    static let saleOrderNumber = "お申し込み番号"
    static let saleDeadline = "お支払い期限"
    static let saleHowToPay = "お支払い方法"
    static let salePaidAt = "お支払い日時"
    static let saleAdditional = "追加販売"

    // Community points
    static let pointsButton = "ポイントと参加したイベント"
    static let titlePoints = "ポイント"
    static let pointsBalance = "使えるポイント"
    static let pointsExpiry = "使える期限"
    static let pointsActivities = "参加したイベント"
    static let pointsNoActivities = "参加したイベントはまだありません。"

    // History
    static let loadMore = "もっと見る"

    // My code
    static let myCodeImage = "お店に見せるQRコード"
    static let myCodeLocked = "マイコードは、ご本人の確認のあとに表示します。"
    static let unlock = "本人確認をして表示する"
    /// Shown by the system's Face ID / Touch ID / passcode sheet.
    static let unlockReason = "マイコードを表示します"

    // Common
    static let back = "もどる"
    static let close = "閉じる"
    static let busy = "処理中です"
}
