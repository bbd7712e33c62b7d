// The fixed words around the view model: tab names, field labels, button titles and the
// descriptions TalkBack reads for icons. Everything that changes with the resident's situation
// (balances, dates, messages, errors) comes from the core's view model instead.
//
// The core's view model carries no labels yet, so these live here, one place, and the iOS
// shell keeps the same words in ios/Chiiki/Chrome.swift. Keep the two in step.
package jp.chiiki.ui

object Chrome {
    const val APP_NAME = "みどり地域通貨"

    // Tabs and titles
    const val TAB_HOME = "ホーム"
    const val TAB_MY_CODE = "マイコード"
    const val TAB_HISTORY = "りれき"
    const val TAB_STORES = "お店"
    const val TITLE_LOGIN = "ログイン"
    const val TITLE_REGISTRATION = "新しく登録する"
    const val TITLE_HISTORY = "お支払いのりれき"
    const val TITLE_STORES = "使えるお店"
    const val TITLE_PAY = "お支払い"
    const val TITLE_MY_CODE = "マイコード"

    // Home
    const val BALANCE_TOTAL = "使える金額"
    const val POINTS = "ポイント"
    const val PAY_BUTTON = "QRコードで支払う"
    const val MY_CODE_BUTTON = "マイコードを見せる"
    const val REFRESH = "最新の情報にする"
    const val LOG_OUT = "ログアウト"

    // Login and registration
    const val PHONE = "電話番号"
    const val PASSWORD = "パスワード"
    const val LOG_IN = "ログインする"
    const val TO_REGISTRATION = "はじめての方は、こちらから登録"
    const val NAME = "お名前"
    const val KANA = "ふりがな"
    const val BIRTH_DATE = "生年月日（例: 1980年4月1日）"
    const val POSTAL_CODE = "郵便番号"
    const val DISTRICT = "お住まいの地区"
    const val ADDRESS = "住所（地区より後）"
    const val EMAIL = "メールアドレス（なくてもかまいません）"
    const val PIN = "暗証番号（4〜6けたの数字）"
    const val PIN_AGAIN = "暗証番号（もう一度）"
    const val REGISTER = "登録する"
    const val TO_LOGIN = "登録がお済みの方は、ログイン"

    // Stores
    const val SEARCH_STORES = "お店の名前でさがす"
    const val INDUSTRY = "業種"
    const val DISTRICT_FILTER = "地区"
    const val ALL = "すべて"

    // Pay
    const val AMOUNT = "金額（円）"
    const val AMOUNT_TO_PAY = "お支払い金額"
    const val NEXT = "次へ"
    const val ENTER_PIN = "暗証番号を入れてください"
    const val PAY_NOW = "支払う"
    const val CANCEL = "やめる"
    const val PAID = "お支払いが終わりました"
    const val BALANCE_AFTER = "お支払い後の残高"
    const val DONE = "ホームにもどる"
    const val CAMERA_PREVIEW = "カメラの映像。お店のQRコードを枠の中に入れてください"

    // The premium set sale
    const val SALE_BUTTON = "プレミアム付商品券の申し込み"
    const val TITLE_SALE = "プレミアム付商品券"
    const val SALE_SCHEDULE = "日程"
    const val SALE_SETS = "セット数"
    const val SALE_TO_PAY = "お支払い"
    const val SALE_ORDER_NUMBER = "お申し込み番号"
    const val SALE_DEADLINE = "お支払い期限"
    const val SALE_HOW_TO_PAY = "お支払い方法"
    const val SALE_PAID_AT = "お支払い日時"
    const val SALE_ADDITIONAL = "追加販売"

    // Community points
    const val POINTS_BUTTON = "ポイントと参加したイベント"
    const val TITLE_POINTS = "ポイント"
    const val POINTS_BALANCE = "使えるポイント"
    const val POINTS_EXPIRY = "使える期限"
    const val POINTS_ACTIVITIES = "参加したイベント"
    const val POINTS_NO_ACTIVITIES = "参加したイベントはまだありません。"

    // History
    const val LOAD_MORE = "もっと見る"

    // My code
    const val MY_CODE_IMAGE = "お店に見せるQRコード"
    const val MY_CODE_LOCKED = "マイコードは、ご本人の確認のあとに表示します。"
    const val UNLOCK = "本人確認をして表示する"

    // Common
    const val BACK = "もどる"
    const val CLOSE = "閉じる"
    const val BUSY = "処理中です"
}
