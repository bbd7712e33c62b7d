//! Becoming a resident of the app and leaving it: registration, login with the device key, and
//! logout. Owns the checks a form gets before it is sent; the server has the last word.

use base64::Engine as _;
use chrono::NaiveDate;
use crux_core::Command;
use serde::{Deserialize, Serialize};

use crate::protocol::{
    CreateSession, ErrorCode, RegisterResident, ResidentRegistered, Role, SessionCreated, paths,
};

use super::{
    Event, Internal,
    api::{ApiError, ApiResult, Call},
    cache,
    effects::{DeviceKeyRequest, DeviceKeyResponse, Effect, render},
    internal, messages,
    model::{Alert, Credentials, Model, Retry, Screen, Session},
    refresh, text,
};

/// The registration form as the resident filled it in, every field as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationForm {
    pub name: String,
    /// The reading, in katakana or hiragana.
    pub kana: String,
    /// `1950-04-01`, `1950/4/1` or `1950年4月1日`.
    pub birth_date: String,
    pub postal_code: String,
    /// One of the programme's districts (`ViewModel` lists them).
    pub district: String,
    pub address: String,
    pub phone: String,
    /// May be left empty.
    pub email: String,
    pub password: String,
    pub pin: String,
    /// The PIN a second time.
    pub pin_again: String,
}

/// A field of the registration form, for placing a message beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FormField {
    Name,
    Kana,
    BirthDate,
    PostalCode,
    District,
    Address,
    Phone,
    Password,
    Pin,
    PinAgain,
    /// Not about one field.
    Form,
}

pub fn open_login(model: &mut Model) -> Command<Effect, Event> {
    model.screen = Screen::Login;
    model.account.login_error = None;
    render()
}

pub fn open_registration(model: &mut Model) -> Command<Effect, Event> {
    model.screen = Screen::Registration;
    model.account.registration_errors.clear();
    render()
}

pub fn register(model: &mut Model, form: RegistrationForm) -> Command<Effect, Event> {
    model.screen = Screen::Registration;
    let request = match check(&form) {
        Ok(request) => request,
        Err(errors) => {
            model.account.registration_errors = errors;
            return render();
        }
    };
    model.account.registration_errors.clear();
    model.account.busy = true;
    model.account.credentials = Some(Credentials {
        login: request.phone.clone(),
        password: request.password.clone(),
    });
    model.account.registration = Some(form);
    Call::post(paths::RESIDENTS, &request)
        .send(model.connection().as_ref(), |r| {
            internal(Internal::Registered(r))
        })
        .and(render())
}

pub fn retry_registration(model: &mut Model) -> Command<Effect, Event> {
    match model.account.registration.take() {
        Some(form) => register(model, form),
        None => render(),
    }
}

pub fn registered(
    model: &mut Model,
    result: ApiResult<ResidentRegistered>,
) -> Command<Effect, Event> {
    model.account.busy = false;
    match result {
        Ok(registered) => {
            model.account.registration = None;
            if let Some(credentials) = model.account.credentials.as_mut() {
                credentials.login = registered.login;
            }
            ask_device_key(model)
        }
        Err(error) => {
            registration_refused(model, &error);
            render()
        }
    }
}

fn registration_refused(model: &mut Model, error: &ApiError) {
    let message = messages::for_error(error);
    if messages::worth_retrying(error) {
        model.alert = Some(Alert::with_retry(message, Retry::Register));
        return;
    }
    model.account.registration = None;
    model.account.credentials = None;
    let field = match error.code() {
        Some(ErrorCode::LoginTaken) => FormField::Phone,
        _ => FormField::Form,
    };
    model.account.registration_errors = vec![(field, message)];
}

pub fn log_in(model: &mut Model, login: String, password: String) -> Command<Effect, Event> {
    model.screen = Screen::Login;
    let login = text::narrow(login.trim());
    if login.is_empty() || password.is_empty() {
        model.account.login_error = Some(LOGIN_EMPTY.into());
        return render();
    }
    model.account.credentials = Some(Credentials { login, password });
    ask_device_key(model)
}

const LOGIN_EMPTY: &str = "電話番号とパスワードを入れてください。";

pub fn retry_login(model: &mut Model) -> Command<Effect, Event> {
    if model.account.credentials.is_none() {
        return open_login(model);
    }
    ask_device_key(model)
}

/// The device's public key goes to the server with the login, so that the resident code the
/// phone signs later can be checked.
fn ask_device_key(model: &mut Model) -> Command<Effect, Event> {
    model.screen = Screen::Login;
    model.account.login_error = None;
    model.account.busy = true;
    Command::request_from_shell(DeviceKeyRequest::PublicKey)
        .then_send(|answer| internal(Internal::DeviceKeyRead(answer)))
        .and(render())
}

pub fn device_key_read(model: &mut Model, answer: DeviceKeyResponse) -> Command<Effect, Event> {
    let Some(credentials) = model.account.credentials.clone() else {
        return Command::done();
    };
    let DeviceKeyResponse::PublicKey { sec1 } = answer else {
        model.account.busy = false;
        model.alert = Some(Alert::with_retry(
            messages::DEVICE_KEY_UNAVAILABLE,
            Retry::Login,
        ));
        return render();
    };
    let request = CreateSession {
        login: credentials.login,
        password: credentials.password,
        device_name: model.device_name.clone(),
        public_key: Some(base64::engine::general_purpose::STANDARD.encode(sec1)),
    };
    Call::post(paths::SESSIONS, &request).send(model.connection().as_ref(), |r| {
        internal(Internal::SessionCreated(r))
    })
}

pub fn session_created(
    model: &mut Model,
    result: ApiResult<SessionCreated>,
) -> Command<Effect, Event> {
    model.account.busy = false;
    match result {
        Ok(created) => signed_in(model, created),
        Err(error) if messages::worth_retrying(&error) => {
            model.alert = Some(Alert::with_retry(messages::for_error(&error), Retry::Login));
            render()
        }
        Err(error) => {
            model.account.credentials = None;
            model.account.login_error = Some(messages::for_error(&error));
            render()
        }
    }
}

const NOT_A_RESIDENT: &str =
    "このアプリは市民の方のためのものです。お店の方は、お店用のアプリをお使いください。";

fn signed_in(model: &mut Model, created: SessionCreated) -> Command<Effect, Event> {
    model.account.credentials = None;
    let session = Session {
        token: created.token,
        device_id: created.device_id,
        resident_id: created.resident_id,
        display_name: created.display_name,
    };
    if created.role != Role::Resident || !session.is_usable() {
        model.account.login_error = Some(NOT_A_RESIDENT.into());
        return render();
    }
    let save = cache::save(cache::SESSION, &session);
    model.session = Some(session);
    model.screen = Screen::Home;
    save.and(refresh::refresh(model))
}

pub fn log_out(model: &mut Model) -> Command<Effect, Event> {
    if model.pending.is_some() {
        model.alert = Some(Alert::new(messages::LOGOUT_BLOCKED));
        return render();
    }
    model.forget_resident();
    forget_stored().and(render())
}

/// Remove everything personal from the phone.
pub fn forget_stored() -> Command<Effect, Event> {
    Command::all(cache::PERSONAL.map(cache::remove))
}

/// Check the form and turn it into the request the server expects.
fn check(form: &RegistrationForm) -> Result<RegisterResident, Vec<(FormField, String)>> {
    let mut errors = Vec::new();
    let mut need = |ok: bool, field: FormField, message: &str| {
        if !ok {
            errors.push((field, message.to_owned()));
        }
    };
    let name = form.name.trim().to_owned();
    let kana = text::to_katakana(&text::narrow(form.kana.trim()));
    let birth_date = parse_date(&form.birth_date);
    let postal = text::digits(&form.postal_code).filter(|d| d.len() == 7);
    let phone = text::digits(&form.phone).filter(|d| (10..=11).contains(&d.len()));
    let pin = text::digits(&form.pin).filter(|d| (4..=6).contains(&d.len()));
    need(
        !name.is_empty(),
        FormField::Name,
        "お名前を入れてください。",
    );
    need(
        !kana.is_empty(),
        FormField::Kana,
        "フリガナを入れてください。",
    );
    need(birth_date.is_some(), FormField::BirthDate, BIRTH_DATE_HELP);
    need(
        postal.is_some(),
        FormField::PostalCode,
        "郵便番号を7けたの数字で入れてください。",
    );
    need(
        !form.district.trim().is_empty(),
        FormField::District,
        "地区を選んでください。",
    );
    need(
        !form.address.trim().is_empty(),
        FormField::Address,
        "住所を入れてください。",
    );
    need(
        phone.is_some(),
        FormField::Phone,
        "電話番号を数字で入れてください。",
    );
    need(
        !form.password.is_empty(),
        FormField::Password,
        "パスワードを決めて入れてください。",
    );
    need(pin.is_some(), FormField::Pin, messages::PIN_FORMAT);
    need(
        text::digits(&form.pin_again) == pin,
        FormField::PinAgain,
        "暗証番号を、2回とも同じに入れてください。",
    );
    match (birth_date, postal, phone, pin) {
        (Some(birth_date), Some(postal), Some(phone), Some(pin)) if errors.is_empty() => {
            Ok(RegisterResident {
                name,
                kana,
                birth_date,
                postal_code: format!("{}-{}", &postal[..3], &postal[3..]),
                address: form.address.trim().to_owned(),
                district: form.district.trim().to_owned(),
                phone,
                email: Some(form.email.trim().to_owned()).filter(|e| !e.is_empty()),
                password: form.password.clone(),
                pin,
            })
        }
        _ => Err(errors),
    }
}

const BIRTH_DATE_HELP: &str = "生年月日を、例のように入れてください（例：1950年4月1日）。";

/// `1950-04-01`, `1950/4/1`, `1950年4月1日`, in either width.
fn parse_date(input: &str) -> Option<NaiveDate> {
    let narrow = text::narrow(input);
    let parts: Vec<u32> = narrow
        .split(['-', '/', '.', '年', '月', '日'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match parts.as_slice() {
        [year, month, day] => NaiveDate::from_ymd_opt(i32::try_from(*year).ok()?, *month, *day),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::{
        BALANCE, DIRECTORY, HISTORY, PROGRAMME, ScreenView,
        testing::{Phone, answer, cached, json_body, programme, refusal},
    };

    fn form() -> RegistrationForm {
        RegistrationForm {
            name: "山田 花子".into(),
            kana: "やまだ はなこ".into(),
            birth_date: "1950年4月1日".into(),
            postal_code: "３７６－０１０１".into(),
            district: "大間々町".into(),
            address: "大間々1-2-3".into(),
            phone: "090-1234-5678".into(),
            email: String::new(),
            password: "hanako-no-himitsu".into(),
            pin: "2580".into(),
            pin_again: "２５８０".into(),
        }
    }

    fn session_created() -> serde_json::Value {
        json!({ "token": "tok-new", "role": "resident", "display_name": "山田 花子",
                "device_id": 77, "resident_id": 12 })
    }

    fn errors(phone: &Phone) -> Vec<(FormField, String)> {
        match phone.view().screen {
            ScreenView::Registration(view) => view
                .errors
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect(),
            other => panic!("expected the registration screen, got {other:?}"),
        }
    }

    /// Resolve the device key request with a public key.
    fn give_public_key(phone: &mut Phone) {
        let mut key = phone.take::<DeviceKeyRequest>();
        assert_eq!(key.operation, DeviceKeyRequest::PublicKey);
        phone.resolve(&mut key, DeviceKeyResponse::PublicKey { sec1: vec![4; 65] });
    }

    #[test]
    fn a_new_resident_registers_and_is_logged_in_with_the_device_key() {
        let mut phone = Phone::new();
        phone.launch();
        phone.respond_to("/api/v1/programme", answer(200, &programme()));
        phone.send(Event::RegistrationOpened);
        assert!(matches!(
            phone.view().screen,
            ScreenView::Registration(view) if view.districts.contains(&"大間々町".to_owned())
        ));

        phone.send(Event::RegistrationSubmitted(form()));
        let registered = json!({ "resident_id": 12, "login": "09012345678" });
        let sent = phone.respond_to("/api/v1/residents", answer(201, &registered));
        let body = json_body(&sent);
        assert_eq!(body["kana"], "ヤマダ ハナコ");
        assert_eq!(body["postal_code"], "376-0101");
        assert_eq!(body["birth_date"], "1950-04-01");
        assert_eq!(body["phone"], "09012345678");
        assert_eq!(body["pin"], "2580");

        give_public_key(&mut phone);
        let sent = phone.respond_to("/api/v1/sessions", answer(201, &session_created()));
        let body = json_body(&sent);
        assert_eq!(body["login"], "09012345678");
        assert_eq!(body["password"], "hanako-no-himitsu");
        assert_eq!(body["device_name"], "らくらくスマートフォン");
        let sec1 = base64::engine::general_purpose::STANDARD
            .decode(body["public_key"].as_str().expect("the device key is sent"));
        assert_eq!(
            sec1.ok(),
            Some(vec![4; 65]),
            "standard base64 of the SEC1 point"
        );

        assert!(matches!(phone.view().screen, ScreenView::Home(_)));
        assert_eq!(
            cached(&phone.cache, SESSION_KEY).map(|s| s["token"].clone()),
            Some(json!("tok-new"))
        );
        assert_eq!(
            phone.requests_to("/api/v1/me/balance"),
            1,
            "the home screen fills in"
        );
    }

    const SESSION_KEY: &str = crate::app::SESSION;

    #[test]
    fn form_mistakes_are_shown_beside_their_fields_before_anything_is_sent() {
        let mut phone = Phone::new();
        phone.launch();
        let form = RegistrationForm {
            pin: "12".into(),
            pin_again: "13".into(),
            postal_code: "376".into(),
            ..form()
        };
        phone.send(Event::RegistrationSubmitted(form));

        let fields: Vec<FormField> = errors(&phone).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [FormField::PostalCode, FormField::Pin, FormField::PinAgain]
        );
        assert_eq!(phone.requests_to("/api/v1/residents"), 0);
    }

    #[test]
    fn a_phone_number_already_registered_is_explained_beside_the_phone_field() {
        let mut phone = Phone::new();
        phone.launch();
        phone.send(Event::RegistrationSubmitted(form()));
        phone.respond_to("/api/v1/residents", refusal(409, "login_taken"));

        assert_eq!(
            errors(&phone),
            [(
                FormField::Phone,
                "この電話番号は、もう登録されています。ログインしてください。".to_owned()
            )]
        );
    }

    #[test]
    fn a_field_the_server_refuses_is_shown_in_its_own_words() {
        let mut phone = Phone::new();
        phone.launch();
        phone.send(Event::RegistrationSubmitted(form()));
        let refusal = json!({ "error": "invalid_field",
            "message": "postal_code: みどり市の郵便番号ではありません。 / Not in the city." });
        phone.respond_to("/api/v1/residents", answer(422, &refusal));

        assert_eq!(
            errors(&phone),
            [(
                FormField::Form,
                "みどり市の郵便番号ではありません。".to_owned()
            )]
        );
    }

    #[test]
    fn registering_without_signal_can_be_retried_as_it_was_filled_in() {
        let mut phone = Phone::new();
        phone.launch();
        phone.send(Event::RegistrationSubmitted(form()));
        phone.respond_to("/api/v1/residents", crate::app::testing::lost());
        assert!(phone.view().alert.is_some_and(|a| a.retry_label.is_some()));

        phone.send(Event::RetryTapped);
        let sent = phone.respond_to("/api/v1/residents", refusal(409, "login_taken"));
        assert_eq!(json_body(&sent)["name"], "山田 花子");
    }

    #[test]
    fn a_wrong_password_is_explained_plainly() {
        let mut phone = Phone::new();
        phone.launch();
        phone.send(Event::LoginSubmitted {
            login: "０９０１２３４５６７８".into(),
            password: "wrong".into(),
        });
        give_public_key(&mut phone);
        let sent = phone.respond_to("/api/v1/sessions", refusal(401, "invalid_credentials"));
        assert_eq!(json_body(&sent)["login"], "09012345678");

        assert!(matches!(
            phone.view().screen,
            ScreenView::Login(view) if view.error.as_deref()
                == Some("電話番号かパスワードがちがいます。お確かめのうえ、もう一度入れてください。")
        ));
    }

    #[test]
    fn a_phone_without_a_device_key_cannot_log_in_and_is_told_what_to_do() {
        let mut phone = Phone::new();
        phone.launch();
        phone.send(Event::LoginSubmitted {
            login: "09012345678".into(),
            password: "pw".into(),
        });
        let mut key = phone.take::<DeviceKeyRequest>();
        phone.resolve(
            &mut key,
            DeviceKeyResponse::Unavailable {
                reason: "keystore locked".into(),
            },
        );

        let alert = phone.view().alert.expect("an alert");
        assert_eq!(alert.message, messages::DEVICE_KEY_UNAVAILABLE);
        phone.send(Event::RetryTapped);
        assert!(phone.has::<DeviceKeyRequest>());
    }

    #[test]
    fn logging_out_forgets_the_resident_but_keeps_the_city_data() {
        let mut phone = Phone::signed_in();
        assert!(phone.cache.contains_key(BALANCE));
        phone.send(Event::LogoutTapped);

        assert!(matches!(phone.view().screen, ScreenView::Login(_)));
        for key in [SESSION_KEY, BALANCE, HISTORY] {
            assert!(!phone.cache.contains_key(key), "{key} is forgotten");
        }
        assert!(phone.cache.contains_key(DIRECTORY));
        assert!(phone.cache.contains_key(PROGRAMME));
    }

    #[test]
    fn birth_dates_are_read_in_the_ways_people_write_them() {
        let expected = NaiveDate::from_ymd_opt(1950, 4, 1);
        assert_eq!(parse_date("1950-04-01"), expected);
        assert_eq!(parse_date("１９５０年４月１日"), expected);
        assert_eq!(parse_date("1950/4/1"), expected);
        assert_eq!(parse_date("1950/2/30"), None);
        assert_eq!(parse_date("昭和25年"), None);
    }
}
