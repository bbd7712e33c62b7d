//! "My code": the resident's own code that a store scans. A short-lived token — device id, the
//! time, a random nonce — signed by the device key, which never leaves the phone. It needs no
//! network, so it shows offline too, and it is replaced every `codes::ROTATE_EVERY_MS` while on
//! screen (a `Timer` effect; timers from an earlier visit are recognised and ignored).

use crux_core::Command;

use super::{
    Event, Internal,
    codes::{self, TokenParts},
    effects::{
        DeviceKeyRequest, DeviceKeyResponse, Effect, NowRequest, RandomBytesRequest, TimerRequest,
        render,
    },
    internal, messages,
    model::{Alert, Model, Retry, Screen, ShownCode},
};

pub fn open(model: &mut Model) -> Command<Effect, Event> {
    let Some(session) = &model.session else {
        return render();
    };
    let device_id = session.device_id;
    model.screen = Screen::MyCode;
    model.my_code.generation += 1;
    model.my_code.shown = None;
    model.my_code.error = None;
    render().and(issue(model.my_code.generation, device_id))
}

/// Clock, nonce, signature: then the app assembles the code.
fn issue(generation: u64, device_id: i64) -> Command<Effect, Event> {
    Command::new(move |ctx| async move {
        let issued_at = ctx.request_from_shell(NowRequest).await;
        let random = ctx.request_from_shell(RandomBytesRequest { len: 16 }).await;
        let Ok(nonce) = <[u8; 16]>::try_from(random.get(..16).unwrap_or_default()) else {
            let answer = DeviceKeyResponse::Unavailable {
                reason: "too few random bytes".into(),
            };
            let parts = TokenParts {
                device_id,
                issued_at,
                nonce: [0; 16],
            };
            ctx.send_event(internal(Internal::MyCodeSigned {
                generation,
                parts,
                answer,
            }));
            return;
        };
        let parts = TokenParts {
            device_id,
            issued_at,
            nonce,
        };
        let message = parts.signing_bytes();
        let answer = ctx
            .request_from_shell(DeviceKeyRequest::Sign { message })
            .await;
        ctx.send_event(internal(Internal::MyCodeSigned {
            generation,
            parts,
            answer,
        }));
    })
}

pub fn signed(
    model: &mut Model,
    generation: u64,
    parts: TokenParts,
    answer: DeviceKeyResponse,
) -> Command<Effect, Event> {
    if !is_current(model, generation) {
        return Command::done();
    }
    let assembled = match answer {
        DeviceKeyResponse::Signature { bytes } => parts.assemble(&bytes),
        _ => Err(messages::DEVICE_KEY_UNAVAILABLE),
    };
    match assembled {
        Ok((payload, svg)) => {
            model.my_code.shown = Some(ShownCode {
                payload,
                svg,
                issued_at: parts.issued_at,
            });
            model.my_code.error = None;
            render().and(
                Command::request_from_shell(TimerRequest {
                    millis: codes::ROTATE_EVERY_MS,
                })
                .then_send(move |()| internal(Internal::MyCodeRotationDue { generation })),
            )
        }
        Err(message) => {
            model.my_code.shown = None;
            model.my_code.error = Some(message.to_owned());
            model.alert = Some(Alert::with_retry(message, Retry::MyCode));
            render()
        }
    }
}

pub fn rotation_due(model: &mut Model, generation: u64) -> Command<Effect, Event> {
    let Some(session) = &model.session else {
        return Command::done();
    };
    if !is_current(model, generation) {
        return Command::done();
    }
    issue(generation, session.device_id)
}

/// Still on the screen that asked for this code.
fn is_current(model: &Model, generation: u64) -> bool {
    model.screen == Screen::MyCode && model.my_code.generation == generation
}

#[cfg(test)]
mod tests {
    use ring::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
    };

    use super::*;
    use crate::{
        app::{
            MyCodeView, ScreenView,
            testing::{DEVICE_ID, Phone, at},
        },
        qr,
    };

    /// The phone's key store.
    struct DeviceKey {
        pair: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl DeviceKey {
        fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a key");
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("a key");
            DeviceKey { pair, rng }
        }

        fn sign(&self, request: &DeviceKeyRequest) -> DeviceKeyResponse {
            let DeviceKeyRequest::Sign { message } = request else {
                panic!("expected a signing request, got {request:?}");
            };
            let signature = self.pair.sign(&self.rng, message).expect("signed");
            DeviceKeyResponse::Signature {
                bytes: signature.as_ref().to_vec(),
            }
        }
    }

    fn my_code(phone: &Phone) -> MyCodeView {
        match phone.view().screen {
            ScreenView::MyCode(view) => view,
            other => panic!("expected my code, got {other:?}"),
        }
    }

    /// Answer the clock, the random nonce and the signature for one code.
    fn issue(phone: &mut Phone, key: &DeviceKey, now: &str, nonce: u8) {
        let mut clock = phone.take::<NowRequest>();
        phone.resolve(&mut clock, at(now));
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![nonce; 16]);
        let mut sign = phone.take::<DeviceKeyRequest>();
        let signature = key.sign(&sign.operation);
        phone.resolve(&mut sign, signature);
    }

    #[test]
    fn my_code_is_signed_by_the_device_key_and_shown_without_the_network() {
        let key = DeviceKey::new();
        let mut phone = Phone::signed_in();
        phone.send(Event::MyCodeOpened);
        assert_eq!(my_code(&phone).caption, messages::MY_CODE_PREPARING);

        issue(&mut phone, &key, "2025-01-10T05:04:30Z", 9);

        let view = my_code(&phone);
        assert_eq!(view.caption, "お店の人に、この画面を見せてください。");
        assert_eq!(view.updated.as_deref(), Some("14:04 に更新"));
        assert!(view.svg.is_some_and(|svg| svg.contains("<svg")));
        let payload = view.payload.expect("a payload");
        let code = qr::decode_resident_code(&payload).expect("a resident code");
        code.verify(key.pair.public_key().as_ref())
            .expect("signed by this phone's key");
        assert_eq!(code.token.device_id, DEVICE_ID);
        assert_eq!(code.token.nonce, [9; 16]);
        assert_eq!(code.token.validity_secs, codes::RESIDENT_CODE_VALIDITY_SECS);
        assert_eq!(
            phone.requests_to("/api/v1/me/balance"),
            0,
            "no server involved"
        );
    }

    #[test]
    fn my_code_is_replaced_every_thirty_seconds_while_it_is_on_screen() {
        let key = DeviceKey::new();
        let mut phone = Phone::signed_in();
        phone.send(Event::MyCodeOpened);
        issue(&mut phone, &key, "2025-01-10T05:04:30Z", 1);
        let first = my_code(&phone).payload;

        let mut timer = phone.take::<TimerRequest>();
        assert_eq!(timer.operation, TimerRequest { millis: 30_000 });
        phone.resolve(&mut timer, ());
        issue(&mut phone, &key, "2025-01-10T05:05:00Z", 2);

        let second = my_code(&phone).payload;
        assert_ne!(first, second);
        assert_eq!(my_code(&phone).updated.as_deref(), Some("14:05 に更新"));
    }

    #[test]
    fn rotation_stops_once_the_resident_leaves_the_screen() {
        let key = DeviceKey::new();
        let mut phone = Phone::signed_in();
        phone.send(Event::MyCodeOpened);
        issue(&mut phone, &key, "2025-01-10T05:04:30Z", 1);

        phone.send(Event::HomeOpened);
        let mut timer = phone.take::<TimerRequest>();
        phone.resolve(&mut timer, ());
        assert!(!phone.has::<NowRequest>(), "no new code is made off screen");
    }

    #[test]
    fn a_key_store_that_refuses_to_sign_is_explained_with_a_retry() {
        let mut phone = Phone::signed_in();
        phone.send(Event::MyCodeOpened);
        let mut clock = phone.take::<NowRequest>();
        phone.resolve(&mut clock, at("2025-01-10T05:04:30Z"));
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![1; 16]);
        let mut sign = phone.take::<DeviceKeyRequest>();
        phone.resolve(
            &mut sign,
            DeviceKeyResponse::Unavailable {
                reason: "user cancelled biometry".into(),
            },
        );

        let alert = phone.view().alert.expect("an alert");
        assert_eq!(alert.message, messages::DEVICE_KEY_UNAVAILABLE);
        phone.send(Event::RetryTapped);
        assert!(phone.has::<NowRequest>());
    }
}
