//! Every sentence store staff read, in plain Japanese, always with what to do next. What the
//! server words better (field errors, particulars) is taken from its message.

use crate::Yen;
use crate::app::{api::ApiError, messages as resident};
use crate::protocol::ErrorCode;

pub use resident::{RETRY, SIGNED_OUT, SOMETHING_WRONG};

pub const SCANNING: &str = "お客様のQRコードを、カメラで読み取ってください。";
pub const CONFIRMING: &str = "確認中です。このままお待ちください。";
pub const CHARGE_UNANSWERED: &str =
    "お支払いの結果がまだ届いていません。二重に受け取ることはありません。このままお待ちください。";
pub const CHARGE_STILL_CONFIRMING: &str =
    "前のお支払いを確認中です。確認が終わるまでお待ちください。";
pub const CANNOT_SAVE: &str =
    "端末に記録できなかったため、受け取りを止めました。お客様のお金は引かれていません。";
pub const AMOUNT_INVALID: &str = "金額を数字で入れてください。";
pub const CAMERA_UNAVAILABLE: &str =
    "カメラが使えません。設定でカメラの使用を許可してから、もう一度ためしてください。";
pub const NOT_A_STORE_LOGIN: &str =
    "お店用のIDではありません。お店用のIDとパスワードでログインしてください。";
pub const INVALID_CREDENTIALS: &str =
    "IDかパスワードがちがいます。お確かめのうえ、もう一度入れてください。";
pub const AMOUNT_CODE_CAPTION: &str = "お客様に、このQRコードを読み取ってもらってください。";
pub const STORE_CODE_MISSING: &str =
    "お店のQRコードを受け取れませんでした。電波の届く所で、もう一度ためしてください。";
pub const FEED_RECONNECTING: &str = "入金のお知らせに再接続しています…";
pub const REFUND_REASON_MISSING: &str = "返金の理由を入れてください。";
pub const REFUND_TOO_MUCH: &str = "返金できる金額をこえています。金額をお確かめください。";
pub const LOGOUT_BLOCKED: &str =
    "お支払いを確認中のため、ログアウトできません。確認が終わってから、もう一度ためしてください。";

pub const EXPIRED: &str =
    "お客様のQRコードの有効期限が切れています。新しいQRコードを表示してもらってください。";
pub const REPLAYED: &str =
    "このQRコードはすでに使われました。新しいQRコードを表示してもらってください。";
pub const TAMPERED: &str =
    "このQRコードは読み取れませんでした。お客様のアプリのQRコードをもう一度読み取ってください。";
pub const WRONG_PROGRAMME: &str =
    "この商品券のQRコードではありません。みどり市の商品券アプリのQRコードか、お確かめください。";
pub const NOT_USABLE: &str =
    "このQRコードではお支払いできません。お客様にアプリへログインし直してもらってください。";
pub const OVER_CAP: &str = "1回のお支払いの上限をこえています。金額を分けるか、お客様にお店のQRコードで払ってもらってください。";
pub const STORE_SUSPENDED: &str =
    "このお店は、いまお支払いを受け付けられません。市の窓口にお問い合わせください。";
pub const INSUFFICIENT: &str =
    "お客様の残高が足りません。金額を減らすか、ほかのお支払い方法をお願いしてください。";
pub const REFUND_TOO_OLD: &str = "お店で返金できる期間を過ぎています。市の窓口にご相談ください。";

/// 「¥1,200 受け取りました」.
pub fn received(amount: Yen) -> String {
    format!("{amount} 受け取りました")
}

/// 「¥500 返金しました」.
pub fn refunded(amount: Yen) -> String {
    format!("{amount} 返金しました")
}

/// What to tell store staff when a request failed.
pub fn for_error(error: &ApiError) -> String {
    let ApiError::Refused { code, message, .. } = error else {
        return resident::for_error(error);
    };
    let fixed = match code {
        ErrorCode::ResidentCodeExpired => EXPIRED,
        ErrorCode::ResidentCodeReplayed => REPLAYED,
        ErrorCode::ResidentCodeNotUsable => NOT_USABLE,
        // The server says which (another programme's code, a damaged one).
        ErrorCode::InvalidResidentCode if mentions_other_programme(message) => WRONG_PROGRAMME,
        ErrorCode::InvalidResidentCode => TAMPERED,
        ErrorCode::AmountTooLarge => OVER_CAP,
        ErrorCode::StoreNotAccepting | ErrorCode::Forbidden => STORE_SUSPENDED,
        ErrorCode::InsufficientBalance => INSUFFICIENT,
        ErrorCode::InvalidCredentials => INVALID_CREDENTIALS,
        ErrorCode::RefundExceedsPayment => REFUND_TOO_MUCH,
        // The server names the number of days.
        ErrorCode::RefundWindowClosed => {
            let words = message.split(" / ").next().unwrap_or_default().trim();
            return if words.is_empty() {
                REFUND_TOO_OLD.to_owned()
            } else {
                words.to_owned()
            };
        }
        _ => return resident::for_error(error),
    };
    fixed.to_owned()
}

fn mentions_other_programme(message: &str) -> bool {
    message.contains("この商品券のものではありません") || message.contains("programme")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: ErrorCode, message: &str) -> ApiError {
        ApiError::Refused {
            status: 422,
            code,
            message: message.into(),
        }
    }

    #[test]
    fn an_amount_reads_as_received_yen() {
        assert_eq!(received(Yen(1200)), "¥1,200 受け取りました");
        assert_eq!(refunded(Yen(500)), "¥500 返金しました");
    }

    #[test]
    fn a_refund_too_old_keeps_the_servers_number_of_days() {
        let error = refused(
            ErrorCode::RefundWindowClosed,
            "お店で返金できるのは支払いから7日以内です。市の窓口にご相談ください。 / Store staff may refund payments of the last 7 days only.",
        );
        assert_eq!(
            for_error(&error),
            "お店で返金できるのは支払いから7日以内です。市の窓口にご相談ください。"
        );
        assert_eq!(
            for_error(&refused(ErrorCode::RefundWindowClosed, "")),
            REFUND_TOO_OLD
        );
    }

    #[test]
    fn a_code_of_another_programme_is_told_apart_from_a_damaged_one() {
        let other = refused(
            ErrorCode::InvalidResidentCode,
            "このQRコードはこの商品券のものではありません。 / The code's device is not known to this programme.",
        );
        assert_eq!(for_error(&other), WRONG_PROGRAMME);
        let damaged = refused(
            ErrorCode::InvalidResidentCode,
            "このQRコードはお支払いに使えません（署名が正しくありません）。 / Not a valid resident code: bad signature.",
        );
        assert_eq!(for_error(&damaged), TAMPERED);
    }
}
