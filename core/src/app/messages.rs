//! Every sentence the app shows a resident, in plain Japanese for someone who is not used to
//! smartphones. Short sentences, everyday words, and always what to do next.

use crate::protocol::ErrorCode;

use super::api::ApiError;

pub const OFFLINE_BANNER: &str =
    "インターネットにつながっていません。表示は、最後につながったときのものです。";
pub const RETRY: &str = "もう一度ためす";
pub const LOADING: &str = "読み込んでいます…";
pub const CONFIRMING: &str = "確認中です。このままお待ちください。";
/// A confirmed payment whose answer did not come back (it is sent again by itself).
pub const PAYMENT_UNANSWERED: &str = "お支払いの結果がまだ届いていません。二重に引かれることはありません。電波の届く所で、このままお待ちください。";
pub const SCANNING: &str = "お店のQRコードを、カメラで読み取ってください。";
pub const CHECKING_STORE: &str = "お店を確認しています…";
pub const MY_CODE_CAPTION: &str = "お店の人に、この画面を見せてください。";
pub const MY_CODE_PREPARING: &str = "コードを用意しています…";

pub const NETWORK: &str =
    "インターネットにつながりませんでした。電波の届く所で、もう一度ためしてください。";
pub const BUSY: &str = "ただいま混み合っています。少し待ってから、もう一度ためしてください。";
pub const UNREADABLE: &str = "うまく受け取れませんでした。もう一度ためしてください。";
pub const SOMETHING_WRONG: &str = "うまくいきませんでした。もう一度ためしてください。";
pub const SIGNED_OUT: &str = "もう一度ログインしてください。";
pub const CAMERA_UNAVAILABLE: &str =
    "カメラが使えません。設定でカメラの使用を許可してから、もう一度ためしてください。";
pub const DEVICE_KEY_UNAVAILABLE: &str =
    "この電話の安全のしくみが使えませんでした。電話を再起動してから、もう一度ためしてください。";
pub const PAYMENT_STILL_CONFIRMING: &str =
    "前のお支払いを確認中です。確認が終わるまでお待ちください。";
pub const LOGOUT_BLOCKED: &str =
    "お支払いを確認中のため、ログアウトできません。確認が終わってから、もう一度ためしてください。";
pub const CANNOT_SAVE: &str =
    "電話に記録できなかったため、お支払いを止めました。お金は引かれていません。";
pub const AMOUNT_INVALID: &str = "金額を数字で入れてください。";
pub const PIN_FORMAT: &str = "暗証番号は4けたから6けたの数字です。";
pub const STORE_NOT_FOUND: &str = "このお店は見つかりませんでした。お店の人にお確かめください。";
pub const STORE_NOT_ACCEPTING: &str = "このお店では、今はお支払いができません。";
pub const PAYMENT_DONE_TITLE: &str = "お支払いが終わりました";
pub const SOLD_OUT: &str = "申し訳ありません。商品券は売り切れました。";
pub const SALE_LOADING: &str = "販売の状況を確かめています…";
pub const SALE_UNKNOWN: &str =
    "販売の状況を確かめられませんでした。電波の届く所で、画面を下に引いて更新してください。";
pub const SALE_CANNOT_SAVE: &str =
    "電話に記録できなかったため、お申し込みを止めました。もう一度ためしてください。";
pub const SALE_SENDING: &str = "送信しています…";
pub const SALE_ORDER_CONFIRMING: &str =
    "お申し込みを確認中です。二重に申し込まれることはありません。このままお待ちください。";
pub const PAYMENT_CONFLICT: &str =
    "お支払いを確かめられませんでした。お支払いの記録（りれき）をご確認ください。";

/// What to tell the resident when a request failed.
pub fn for_error(error: &ApiError) -> String {
    match error {
        ApiError::Network(_) => NETWORK.into(),
        ApiError::Busy { .. } => BUSY.into(),
        ApiError::Unreadable(_) => UNREADABLE.into(),
        ApiError::Refused { code, message, .. } => for_refusal(*code, message),
    }
}

fn for_refusal(code: ErrorCode, server_message: &str) -> String {
    let server_words = japanese_part(server_message);
    let fixed = match code {
        // The server knows the particulars (tries left, until when, what is left to spend).
        ErrorCode::WrongPin | ErrorCode::PinLocked | ErrorCode::InsufficientBalance
            if !server_words.is_empty() =>
        {
            return server_words.to_owned();
        }
        ErrorCode::Unauthorized => SIGNED_OUT,
        ErrorCode::InvalidCredentials => {
            "電話番号かパスワードがちがいます。お確かめのうえ、もう一度入れてください。"
        }
        ErrorCode::LoginTaken => "この電話番号は、もう登録されています。ログインしてください。",
        ErrorCode::InsufficientBalance => "残高が足りません。金額をお確かめください。",
        ErrorCode::WrongPin => "暗証番号がちがいます。もう一度入れてください。",
        ErrorCode::PinLocked => {
            "暗証番号を何度もまちがえたため、お支払いを止めています。市役所の窓口にご相談ください。"
        }
        ErrorCode::UnknownStore => STORE_NOT_FOUND,
        ErrorCode::StoreNotAccepting => STORE_NOT_ACCEPTING,
        ErrorCode::InvalidStoreCode => {
            "このQRコードはお支払いに使えません。お店の人にお確かめください。"
        }
        ErrorCode::ProgrammeExpired => "この商品券を使える期間は終わりました。",
        ErrorCode::ProgrammeNotStarted => "この商品券は、まだ使える期間になっていません。",
        ErrorCode::AmountNotPositive => "金額を入れてください。",
        ErrorCode::AmountTooLarge => "金額が大きすぎます。金額をお確かめください。",
        ErrorCode::IdempotencyConflict => PAYMENT_CONFLICT,
        ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::SaleBusy => BUSY,
        // The sale's refusals carry particulars (the window's dates, the sets left, the limit
        // and what the resident holds); the fixed words are for a server that gave none.
        ErrorCode::ApplicationWindowClosed
        | ErrorCode::SetsOutOfRange
        | ErrorCode::AdditionalSaleNotOpen
        | ErrorCode::SoldOut
        | ErrorCode::SaleLimitReached
        | ErrorCode::SaleWindowClosed
        | ErrorCode::OrderLapsed
            if !server_words.is_empty() =>
        {
            return server_words.to_owned();
        }
        ErrorCode::ApplicationWindowClosed => {
            "申込期間ではないため、申込・変更・取消はできません。"
        }
        ErrorCode::SetsOutOfRange => "お申し込みできるセット数をこえています。",
        ErrorCode::NoApplication => "お申し込みはありません。",
        ErrorCode::DrawNotDone => {
            "まだ抽選が行われていません。追加販売は、抽選と当選した方のお支払いのあとに始まります。"
        }
        ErrorCode::AdditionalSaleNotOpen => "今は追加販売の期間ではありません。",
        ErrorCode::SoldOut => SOLD_OUT,
        ErrorCode::SaleLimitReached => "お一人がお求めになれるセット数をこえています。",
        ErrorCode::SaleWindowClosed => "販売期間ではありません。",
        ErrorCode::OrderLapsed => "お支払いの期限を過ぎたため、このお申し込みは無効になりました。",
        // The server words field problems for people; show them as they are.
        ErrorCode::InvalidField | ErrorCode::MissingField | ErrorCode::InvalidPublicKey
            if !server_words.is_empty() =>
        {
            return server_words.to_owned();
        }
        _ => SOMETHING_WRONG,
    };
    fixed.to_owned()
}

/// The server writes `日本語 / English`, and field errors as `field: 日本語`; residents read
/// the Japanese alone.
fn japanese_part(message: &str) -> &str {
    let japanese = message.split(" / ").next().unwrap_or_default().trim();
    match japanese.split_once(": ") {
        Some((field, rest)) if field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            rest.trim()
        }
        _ => japanese,
    }
}

/// Whether offering "もう一度ためす" makes sense: only when the server did not decide.
pub fn worth_retrying(error: &ApiError) -> bool {
    !error.is_definite()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: ErrorCode, message: &str) -> ApiError {
        ApiError::Refused {
            status: 400,
            code,
            message: message.into(),
        }
    }

    #[test]
    fn field_problems_are_shown_in_the_servers_words() {
        let error = refused(
            ErrorCode::InvalidField,
            "postal_code: 郵便番号が市内のものではありません / Not in the city.",
        );
        assert_eq!(for_error(&error), "郵便番号が市内のものではありません");
    }

    #[test]
    fn the_english_half_and_the_field_name_of_a_server_message_are_left_out() {
        let error = refused(
            ErrorCode::InvalidField,
            "amount: 読み取ったQRコードの金額と違います。 / Amount differs.",
        );
        assert_eq!(for_error(&error), "読み取ったQRコードの金額と違います。");
    }

    #[test]
    fn a_wrong_pin_without_particulars_still_gets_a_plain_message() {
        let error = refused(ErrorCode::WrongPin, "");
        assert_eq!(
            for_error(&error),
            "暗証番号がちがいます。もう一度入れてください。"
        );
    }

    #[test]
    fn unknown_codes_get_a_general_message_not_english() {
        let error = refused(ErrorCode::Unknown, "brand new failure");
        assert_eq!(for_error(&error), SOMETHING_WRONG);
    }

    #[test]
    fn every_refusal_of_the_sale_has_its_own_plain_words() {
        let codes = [
            ErrorCode::ApplicationWindowClosed,
            ErrorCode::SetsOutOfRange,
            ErrorCode::NoApplication,
            ErrorCode::DrawNotDone,
            ErrorCode::AdditionalSaleNotOpen,
            ErrorCode::SoldOut,
            ErrorCode::SaleLimitReached,
            ErrorCode::SaleWindowClosed,
            ErrorCode::OrderLapsed,
        ];
        let mut said = std::collections::BTreeSet::new();
        for code in codes {
            let message = for_error(&refused(code, ""));
            assert_ne!(message, SOMETHING_WRONG, "{code:?}");
            said.insert(message);
        }
        assert_eq!(said.len(), codes.len(), "one message per refusal");
        // With particulars, the server's Japanese is shown as it is.
        let sold_out = refused(
            ErrorCode::SoldOut,
            "残りは3セットです。3セット以下でお申し込みください。 / Only 3 sets are left.",
        );
        assert_eq!(
            for_error(&sold_out),
            "残りは3セットです。3セット以下でお申し込みください。"
        );
    }

    #[test]
    fn only_undecided_failures_offer_a_retry() {
        assert!(worth_retrying(&ApiError::Network("timeout".into())));
        assert!(worth_retrying(&ApiError::Busy { status: 503 }));
        assert!(!worth_retrying(&refused(ErrorCode::WrongPin, "")));
    }
}
