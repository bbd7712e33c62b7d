//! The one place where domain errors become HTTP: a status and `{ "error": code, "message":
//! text }`. Messages are plain Japanese first, for residents, stores and staff, then English.
//! Server faults are logged here and answered without detail.

use crate::auth::AuthError;
use crate::idempotency::IdempotencyError;
use crate::ledger::LedgerError;
use crate::residents::ResidentError;
use crate::stores::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chiiki_core::protocol::{ErrorBody, ErrorCode};
use chiiki_core::time::format_jst_datetime;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rate_limited(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!(
                    "操作が続いたため、少し止めています。{retry_after}秒ほど待ってからもう一度お試しください。 / Too many requests; retry after {retry_after} s."
                ),
            )
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "サーバーで問題が起きました。しばらくしてからもう一度お試しください。 / Internal error.",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "見つかりません。 / Not found.",
        )
    }

    pub fn invalid_field(field: &str, message: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            format!("{field}: {message}"),
        )
    }

    pub fn amount_not_positive() -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::AmountNotPositive,
            "金額は1円以上にしてください。 / The amount must be at least ¥1.",
        )
    }

    pub fn amount_too_large(max: chiiki_core::Yen) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::AmountTooLarge,
            format!("一度に扱える金額は{max}までです。 / The amount exceeds {max}."),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code,
            message: self.message.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "ただいま混み合っています。少し待ってからもう一度お試しください。 / Busy, please retry.",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        use StatusCode as S;
        match e {
            LedgerError::InsufficientBalance {
                available,
                requested,
            } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InsufficientBalance,
                format!(
                    "残高が足りません（使える残高 {available}、お支払い {requested}）。 / Insufficient balance."
                ),
            ),
            LedgerError::UnknownResident => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownResident,
                "その利用者は登録されていません。 / Unknown resident.",
            ),
            LedgerError::UnknownStore => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownStore,
                "そのお店は登録されていません。 / Unknown store.",
            ),
            LedgerError::StoreNotAccepting => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::StoreNotAccepting,
                "このお店では今は支払いができません。 / This store cannot take payments now.",
            ),
            LedgerError::UnknownPayment => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownPayment,
                "その支払いは見つかりません。 / Unknown payment.",
            ),
            LedgerError::RefundExceedsPayment { refundable } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::RefundExceedsPayment,
                format!(
                    "返金できるのは{refundable}までです。 / At most {refundable} can be refunded."
                ),
            ),
            LedgerError::ProgrammeNotStarted => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ProgrammeNotStarted,
                "まだ利用期間が始まっていません。 / The usage period has not started.",
            ),
            LedgerError::ProgrammeExpired => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ProgrammeExpired,
                "利用期間は終わりました。 / The usage period has ended.",
            ),
            LedgerError::AmountNotPositive => ApiError::amount_not_positive(),
            LedgerError::Inconsistent(what) => ApiError::internal(format!("ledger: {what}")),
            LedgerError::Db(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        match e {
            AuthError::Unauthorized => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "ログインしてください。 / Please sign in.",
            ),
            AuthError::InvalidCredentials => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "ログインIDかパスワードが違います。 / Wrong login or password.",
            ),
            AuthError::Forbidden => ApiError::new(
                S::FORBIDDEN,
                ErrorCode::Forbidden,
                "この操作はできません。 / Not allowed.",
            ),
            AuthError::WrongPin { remaining } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::WrongPin,
                format!(
                    "暗証番号が違います。あと{remaining}回まちがえると、しばらく支払いができなくなります。 / Wrong PIN."
                ),
            ),
            AuthError::PinLocked { until } => ApiError::new(
                S::LOCKED,
                ErrorCode::PinLocked,
                format!(
                    "暗証番号を続けてまちがえたため、{}まで支払いを止めています。 / Payments are locked.",
                    format_jst_datetime(until)
                ),
            ),
            AuthError::InvalidPublicKey => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPublicKey,
                "端末の鍵の形式が正しくありません。 / Invalid device public key.",
            ),
            AuthError::Invalid { field, message } => ApiError::invalid_field(field, message),
            AuthError::LoginTaken => ApiError::new(
                S::CONFLICT,
                ErrorCode::LoginTaken,
                "このログインIDは使われています。 / This login is taken.",
            ),
            AuthError::Crypto(e) => ApiError::internal(e),
            AuthError::Db(e) => e.into(),
        }
    }
}

impl From<ResidentError> for ApiError {
    fn from(e: ResidentError) -> Self {
        match e {
            ResidentError::Invalid { field, message } => ApiError::invalid_field(field, message),
            ResidentError::PhoneTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LoginTaken,
                "この電話番号はすでに登録されています。 / This phone number is already registered.",
            ),
            ResidentError::Unknown => LedgerError::UnknownResident.into(),
            ResidentError::Hash(e) => ApiError::internal(e),
            ResidentError::Vault(e) => ApiError::internal(e),
            ResidentError::Ledger(e) => e.into(),
            ResidentError::Db(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { field, message } => ApiError::invalid_field(field, message),
            StoreError::Bank(e) => ApiError::invalid_field(e.field(), &e.message_ja()),
            StoreError::Unknown => LedgerError::UnknownStore.into(),
            StoreError::InvalidTransition { from, to } => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidTransition,
                format!("この状態（{from:?}）からは{to:?}にできません。 / Invalid status change."),
            ),
            StoreError::Ledger(e) => e.into(),
            StoreError::Vault(e) => ApiError::internal(e),
            StoreError::Db(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Missing => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::IdempotencyKeyMissing,
                "Idempotency-Key ヘッダーが必要です。 / The Idempotency-Key header is required.",
            ),
            IdempotencyError::Invalid => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                "Idempotency-Key は1〜255文字の英数記号にしてください。 / Invalid Idempotency-Key.",
            ),
            IdempotencyError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyConflict,
                "同じ Idempotency-Key で別の内容が送られました。 / This key was used for a different request.",
            ),
            IdempotencyError::Db(e) => e.into(),
        }
    }
}

/// "2024年11月30日まで" for a deadline at midnight JST (the day before is the last day),
/// otherwise "2024年12月1日 10:30まで".
fn deadline_text(pay_by: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let local = pay_by.with_timezone(&chiiki_core::time::jst());
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        let last = pay_by - chrono::Duration::seconds(1);
        format!("{}まで", chiiki_core::time::format_jst_date(last))
    } else {
        format!("{}まで", format_jst_datetime(pay_by))
    }
}

impl From<crate::sale::SaleError> for ApiError {
    fn from(e: crate::sale::SaleError) -> Self {
        use crate::sale::SaleError as E;
        use StatusCode as S;
        use chiiki_core::time::format_date;
        match e {
            E::ApplicationsClosed { window } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ApplicationWindowClosed,
                format!(
                    "申込期間（{}〜{}）ではないため、申込・変更・取消はできません。 / Applications are accepted from {} to {} (JST) only.",
                    format_date(window.first_day),
                    format_date(window.last_day),
                    window.first_day,
                    window.last_day
                ),
            ),
            E::SetsOutOfRange { limit } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::SetsOutOfRange,
                format!("お申し込みできるのは1〜{limit}セットです。 / Sets must be 1 to {limit}."),
            ),
            E::NoApplication => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::NoApplication,
                "お申し込みはありません。 / No application.",
            ),
            E::ApplicationsStillOpen { closes_at } => ApiError::new(
                S::CONFLICT,
                ErrorCode::ApplicationsStillOpen,
                format!(
                    "申込期間中です（{}に締め切り）。抽選の準備は締め切り後にできます。 / The application window is still open.",
                    format_jst_datetime(closes_at)
                ),
            ),
            E::NotCommitted => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::DrawNotCommitted,
                "抽選のシードのハッシュがまだ公表されていません。 / No seed commitment has been published.",
            ),
            E::AlreadyCommitted => ApiError::new(
                S::CONFLICT,
                ErrorCode::DrawAlreadyCommitted,
                "抽選のシードのハッシュはすでに公表されています。 / A seed commitment is already published.",
            ),
            E::AlreadyDrawn => ApiError::new(
                S::CONFLICT,
                ErrorCode::DrawAlreadyDone,
                "抽選はすでに行われました。 / The lottery has already been drawn.",
            ),
            E::NotDrawn => ApiError::new(
                S::CONFLICT,
                ErrorCode::DrawNotDone,
                "まだ抽選が行われていません。 / The lottery has not been drawn yet.",
            ),
            E::Invalid { field, message } => ApiError::invalid_field(field, message),
            E::SeedMismatch => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::SeedMismatch,
                "このシードは公表したハッシュと一致しません。 / The seed does not match the commitment.",
            ),
            E::ApplicationsChanged => ApiError::new(
                S::CONFLICT,
                ErrorCode::ApplicationsChanged,
                "公表した後に申込の一覧が変わっているため、抽選できません。 / The applications changed after the commitment.",
            ),
            E::SaleClosed { window } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::SaleWindowClosed,
                format!(
                    "販売期間（{}〜{}）ではないため、お支払いを受け付けられません。 / Outside the sale window ({} to {}, JST).",
                    format_date(window.first_day),
                    format_date(window.last_day),
                    window.first_day,
                    window.last_day
                ),
            ),
            E::AdditionalSaleNotOpen {
                opens_at,
                closes_at,
            } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::AdditionalSaleNotOpen,
                format!(
                    "追加販売の期間（{}〜{}）ではありません。 / The additional sale is not open.",
                    chiiki_core::time::format_jst_date(opens_at),
                    deadline_text(closes_at)
                ),
            ),
            E::SoldOut { remaining } if remaining <= 0 => ApiError::new(
                S::CONFLICT,
                ErrorCode::SoldOut,
                "申し訳ありません。商品券は売り切れました。 / Sorry, the sets are sold out.",
            ),
            E::SoldOut { remaining } => ApiError::new(
                S::CONFLICT,
                ErrorCode::SoldOut,
                format!(
                    "残りは{remaining}セットです。{remaining}セット以下でお申し込みください。 / Only {remaining} sets are left."
                ),
            ),
            E::LimitReached { limit, held } => {
                let rest = (limit - held).max(0);
                let tail = if rest == 0 {
                    "これ以上はお求めになれません。".to_string()
                } else {
                    format!("あと{rest}セットまでお求めになれます。")
                };
                ApiError::new(
                    S::UNPROCESSABLE_ENTITY,
                    ErrorCode::SaleLimitReached,
                    format!(
                        "お一人{limit}セットまでです。すでに{held}セット（お支払い待ちを含む）お持ちのため、{tail} / The limit is {limit} sets per resident; {held} held."
                    ),
                )
            }
            E::UnknownOrder => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownOrder,
                "そのお申し込み（注文）は見つかりません。 / Unknown order.",
            ),
            E::OrderLapsed { pay_by } => ApiError::new(
                S::CONFLICT,
                ErrorCode::OrderLapsed,
                format!(
                    "お支払いの期限（{}）を過ぎたため、このお申し込みは無効になりました。 / The order was not paid in time.",
                    deadline_text(pay_by)
                ),
            ),
            E::OrderAlreadyPaid => ApiError::new(
                S::CONFLICT,
                ErrorCode::OrderAlreadyPaid,
                "このお申し込みはお支払い済みです。 / The order is already paid.",
            ),
            E::AmountMismatch { expected, notified } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::AmountMismatch,
                format!(
                    "金額が違います（お支払い額 {expected}、通知額 {notified}）。 / The amount {notified} is not the {expected} due."
                ),
            ),
            E::ReferenceUsed => ApiError::new(
                S::CONFLICT,
                ErrorCode::ReceiptNumberUsed,
                "この受付番号（支払番号）はすでに別のお申し込みに使われています。 / This receipt number or payment id was already used.",
            ),
            E::BadSignature(reason) => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::BadSignature,
                format!("署名が正しくありません。 / Bad signature: {reason}."),
            ),
            E::StaleNotification => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::StaleNotification,
                "通知の時刻が受付できる範囲の外です。 / The notification is outside the replay window.",
            ),
            E::WebhookNotConfigured => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                ErrorCode::WebhookNotConfigured,
                "決済通知の受付が設定されていません。 / No webhook secret is configured.",
            ),
            E::ExpiryTooEarly { expires_at } => ApiError::new(
                S::CONFLICT,
                ErrorCode::ExpiryTooEarly,
                format!(
                    "利用期間中（{}）は失効の処理はできません。 / The usage window has not ended.",
                    deadline_text(expires_at)
                ),
            ),
            E::UnknownResident => LedgerError::UnknownResident.into(),
            E::Ledger(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

/// The sale's admission gate is full.
pub fn sale_busy(busy: crate::sale::Busy) -> ApiError {
    let seconds = busy.retry_after.as_secs().max(1);
    ApiError {
        retry_after: Some(seconds),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::SaleBusy,
            format!(
                "お申し込みが混み合っています。{seconds}秒ほど待ってから、もう一度お試しください。お支払いには影響ありません。 / The sale is busy; retry after {seconds} s."
            ),
        )
    }
}

impl From<crate::store_mode::StoreModeError> for ApiError {
    fn from(e: crate::store_mode::StoreModeError) -> Self {
        use crate::store_mode::StoreModeError as E;
        use chiiki_core::qr::QrError;
        let code_error = |code, message: &str| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.to_string())
        };
        match e {
            E::Code(QrError::Expired) => code_error(
                ErrorCode::ResidentCodeExpired,
                "お客様のQRコードの有効期限が切れています。新しいQRコードを表示してもらってください。 / The resident code has expired.",
            ),
            E::Code(QrError::NotYetValid) => code_error(
                ErrorCode::ResidentCodeExpired,
                "お客様のスマートフォンの時刻がずれています。時刻を合わせてもらってください。 / The resident code is not valid yet.",
            ),
            E::Code(other) => code_error(
                ErrorCode::InvalidResidentCode,
                &format!(
                    "このQRコードはお支払いに使えません（{}）。 / Not a valid resident code: {other}.",
                    other.message_ja().trim_end_matches('。')
                ),
            ),
            E::UnknownDevice => code_error(
                ErrorCode::InvalidResidentCode,
                "このQRコードはこの商品券のものではありません。 / The code's device is not known to this programme.",
            ),
            E::NotAResident => code_error(
                ErrorCode::ResidentCodeNotUsable,
                "このQRコードではお支払いできません。アプリにログインし直してもらってください。 / The code's device is not a signed-in resident's.",
            ),
            E::Replayed => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::ResidentCodeReplayed,
                "このQRコードはすでに使われました。新しいQRコードを表示してもらってください。 / The resident code was already used.",
            ),
            E::RefundTooOld { days } => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::RefundWindowClosed,
                format!(
                    "お店で返金できるのは支払いから{days}日以内です。市の窓口にご相談ください。 / Store staff may refund payments of the last {days} days only."
                ),
            ),
            E::Ledger(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

impl From<crate::pdf::PdfError> for ApiError {
    fn from(e: crate::pdf::PdfError) -> Self {
        tracing::error!(error = %e, "document unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DocumentUnavailable,
            "書類を作れませんでした（フォントがありません）。管理者にお知らせください。 / Documents are unavailable: a font is missing.",
        )
    }
}

impl From<crate::settlement::SettlementError> for ApiError {
    fn from(e: crate::settlement::SettlementError) -> Self {
        use crate::settlement::SettlementError as E;
        use StatusCode as S;
        match e {
            E::InvalidPeriod(why) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPeriod,
                format!("精算の期間の指定が正しくありません（例: 2024-11）。 / {why}"),
            ),
            E::NotOver {
                period,
                closes_from,
            } => ApiError::new(
                S::CONFLICT,
                ErrorCode::PeriodNotOver,
                format!(
                    "{period}はまだ締められません（{}から締められます）。 / Period {period} is not over.",
                    format_jst_datetime(closes_from)
                ),
            ),
            E::OutOfOrder { missing } => ApiError::new(
                S::CONFLICT,
                ErrorCode::PeriodOutOfOrder,
                format!("先に{missing}を締めてください。 / Close {missing} first."),
            ),
            E::NotClosed(period) => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::PeriodNotClosed,
                format!("{period}はまだ締められていません。 / Period {period} is not closed."),
            ),
            E::UnknownPayout { period, store_id } => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::NotFound,
                format!(
                    "{period}に店舗{store_id}へのお支払いはありません。 / No payout for store {store_id} in {period}."
                ),
            ),
            E::PayoutConflict { status } => ApiError::new(
                S::CONFLICT,
                ErrorCode::PayoutConflict,
                format!(
                    "このお支払いは「{}」のため、その操作はできません。 / The payout is {status:?}.",
                    crate::settlement::statement::status_ja(status)
                ),
            ),
            E::NothingScheduled => ApiError::new(
                S::CONFLICT,
                ErrorCode::PayoutConflict,
                "振込予定のお支払いはありません。 / No payout is scheduled.",
            ),
            E::Calendar(e) => ApiError::internal(e),
            E::TransferFile(e) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidField,
                format!("振込ファイルを作れません。設定をご確認ください。 / {e}"),
            ),
            E::Vault(e) => ApiError::internal(e),
            E::Ledger(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

impl From<crate::points::PointsError> for ApiError {
    fn from(e: crate::points::PointsError) -> Self {
        use crate::points::PointsError as E;
        use StatusCode as S;
        let refuse = |code, message: String| ApiError::new(S::UNPROCESSABLE_ENTITY, code, message);
        match e {
            E::UnknownEvent => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownEvent,
                "そのイベントは見つかりません。 / Unknown event.",
            ),
            E::InvalidSpec { field, reason } => ApiError::invalid_field(field, &reason),
            E::Code(qr) => refuse(
                ErrorCode::InvalidEventCode,
                format!(
                    "このQRコードはポイントの受け取りに使えません。会場のQRコードを読み取ってください。 / Not a valid event code: {qr}."
                ),
            ),
            E::Tampered => refuse(
                ErrorCode::EventCodeTampered,
                "このQRコードは市が発行したものと確認できませんでした。ポイントは受け取れません。 / The event code's signature does not verify.".into(),
            ),
            E::OtherProgramme { found } => refuse(
                ErrorCode::EventCodeOtherProgramme,
                format!(
                    "このQRコードは別の地域通貨（{found}）のイベントのものです。このアプリでは受け取れません。 / Event code of another programme."
                ),
            ),
            E::NotStarted { starts_at } => refuse(
                ErrorCode::EventNotStarted,
                format!(
                    "このイベントはまだ始まっていません（{}から）。 / The event has not started.",
                    format_jst_datetime(starts_at)
                ),
            ),
            E::Expired => refuse(
                ErrorCode::EventCodeExpired,
                "このQRコードの受付期間は終わりました。 / The event code's window is over.".into(),
            ),
            E::Rotated => refuse(
                ErrorCode::EventCodeRotated,
                "このQRコードは古くなっています。会場の画面に表示されている最新のQRコードを読み取ってください。 / The code has been replaced; scan the one on the screen now.".into(),
            ),
            E::AlreadyClaimed { daily } => ApiError::new(
                S::CONFLICT,
                ErrorCode::PointsAlreadyClaimed,
                if daily {
                    "このイベントのポイントは今日すでに受け取っています。また明日ご参加ください。 / Already claimed today."
                } else {
                    "このイベントのポイントはすでに受け取っています。 / Already claimed."
                },
            ),
            E::Full => ApiError::new(
                S::CONFLICT,
                ErrorCode::EventFull,
                "このイベントは定員に達したため、ポイントを受け取れません。 / The event is full.",
            ),
            E::KeyMissing => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                ErrorCode::EventKeyMissing,
                "ただいまポイントのQRコードを扱えません。市の窓口にお問い合わせください。 / No event-signing key is configured.",
            ),
            E::Ledger(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

impl From<crate::audit::AuditError> for ApiError {
    fn from(e: crate::audit::AuditError) -> Self {
        match e {
            crate::audit::AuditError::Db(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::reports::ReportError> for ApiError {
    fn from(e: crate::reports::ReportError) -> Self {
        use crate::reports::ReportError as E;
        match e {
            E::InvalidMonth(_) => ApiError::invalid_field(
                "month",
                "対象月を「2024-11」の形で指定してください。 / Give the month as YYYY-MM.",
            ),
            E::UnknownTable(_) => ApiError::invalid_field(
                "table",
                "その表はありません（summary, daily, industry, store_district, size_class, age_band, resident_district, points_event, points_age_band, points_district）。 / No such table.",
            ),
            E::Db(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}
