//! A store's application, parsed once: the store as [`NewStore`] checks it, who runs it, and
//! a bank account whose bank and branch exist and whose holder name converts to Zengin kana.
//! Pure: no database, so every rule is tested here.

use super::{NewStore, StoreError};
use crate::programme::Programme;
use crate::residents::{self, Kana, Phone};
use crate::zengin::{BankAccount, DepositKind};
use chiiki_core::protocol::{
    AccountType, BankAccountInput, BankAccountView, CreateStore, SizeClass, StoreApplication,
};

/// An application that passed every check.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub store: NewStore,
    pub size_class: SizeClass,
    pub representative: String,
    pub contact_name: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub bank: BankAccount,
}

fn person(raw: &str, field: &'static str) -> Result<String, StoreError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 60 || t.chars().any(char::is_control) {
        return Err(StoreError::Invalid {
            field,
            message: "氏名を60文字以内で入力してください。",
        });
    }
    Ok(t.to_string())
}

pub fn deposit_kind(t: AccountType) -> DepositKind {
    match t {
        AccountType::Ordinary => DepositKind::Ordinary,
        AccountType::Current => DepositKind::Current,
        AccountType::Savings => DepositKind::Savings,
    }
}

pub fn account_type(k: DepositKind) -> AccountType {
    match k {
        DepositKind::Ordinary => AccountType::Ordinary,
        DepositKind::Current => AccountType::Current,
        DepositKind::Savings => AccountType::Savings,
    }
}

/// Checks a bank account against the bank code data set and converts the holder name.
pub fn parse_bank_account(input: &BankAccountInput) -> Result<BankAccount, StoreError> {
    BankAccount::parse(
        &input.bank_code,
        &input.branch_code,
        deposit_kind(input.account_type),
        &input.account_number,
        &input.holder_name,
    )
    .map_err(StoreError::Bank)
}

/// The account as staff and the store see it back.
pub fn bank_view(account: &BankAccount) -> BankAccountView {
    let (bank_name, _, branch_name, _) = account.names();
    BankAccountView {
        bank_code: account.bank.as_str().to_string(),
        bank_name,
        branch_code: account.branch.as_str().to_string(),
        branch_name,
        account_type: account_type(account.kind),
        account_number: account.number.as_str().to_string(),
        holder_name: account.holder.as_str().to_string(),
    }
}

impl NewApplication {
    /// Parses every field; the first bad one is named in the error.
    pub fn parse(
        req: &StoreApplication,
        programme: &Programme,
    ) -> Result<NewApplication, StoreError> {
        let store = NewStore::parse(
            &CreateStore {
                name: req.name.clone(),
                kana: req.kana.clone(),
                romanised_name: req.romanised_name.clone(),
                industry: req.industry,
                district: req.district.clone(),
                address: req.address.clone(),
                postal_code: req.postal_code.clone(),
            },
            programme,
        )?;
        Ok(NewApplication {
            store,
            size_class: req.size_class,
            representative: person(&req.representative, "representative")?,
            contact_name: person(&req.contact_name, "contact_name")?,
            phone: Phone::parse(&req.phone)?,
            email: residents::email(req.email.as_deref())?,
            bank: parse_bank_account(&req.bank_account)?,
        })
    }

    /// Every field's problem at once, for the web form (which shows them all together).
    pub fn problems(req: &StoreApplication, programme: &Programme) -> Vec<(String, String)> {
        let checks: Vec<Result<(), StoreError>> = vec![
            super::text(&req.name, "name", 60).map(drop),
            Kana::parse(&req.kana, "kana")
                .map(drop)
                .map_err(StoreError::from),
            super::romanised(&req.romanised_name).map(drop),
            super::place(&req.postal_code, &req.district, programme).map(drop),
            super::text(&req.address, "address", 200).map(drop),
            person(&req.representative, "representative").map(drop),
            person(&req.contact_name, "contact_name").map(drop),
            Phone::parse(&req.phone).map(drop).map_err(StoreError::from),
            residents::email(req.email.as_deref())
                .map(drop)
                .map_err(StoreError::from),
            parse_bank_account(&req.bank_account).map(drop),
        ];
        checks
            .into_iter()
            .filter_map(Result::err)
            .map(|e| (e.field().to_string(), e.message_ja()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zengin::{BankError, KanaError};
    use chiiki_core::protocol::Industry;

    pub fn application() -> StoreApplication {
        StoreApplication {
            name: "みどりマート大間々店".into(),
            kana: "みどりまーとおおままてん".into(),
            romanised_name: "MIDORI MART OMAMA".into(),
            industry: Industry::Supermarket,
            size_class: SizeClass::Small,
            district: "大間々町".into(),
            postal_code: "３７６－０１０１".into(),
            address: "大間々1-1-1".into(),
            representative: "緑 一郎".into(),
            contact_name: "緑 花子".into(),
            phone: "0277-00-0000".into(),
            email: Some("shop@example.jp".into()),
            bank_account: BankAccountInput {
                bank_code: "0128".into(),
                branch_code: "141".into(),
                account_type: AccountType::Ordinary,
                account_number: "1234567".into(),
                holder_name: "株式会社みどりマート".into(),
            },
        }
    }

    #[test]
    fn a_good_application_is_normalised() {
        let p = Programme::midori_2024().unwrap();
        let a = NewApplication::parse(&application(), &p).unwrap();
        assert_eq!(a.store.kana, "ミドリマートオオママテン");
        assert_eq!(a.store.postal_code, "376-0101");
        assert_eq!(a.phone.as_str(), "0277000000");
        assert_eq!(a.bank.holder.as_str(), "ｶ)ﾐﾄﾞﾘﾏ-ﾄ");
        let view = bank_view(&a.bank);
        assert_eq!(
            (view.bank_name.as_str(), view.branch_name.as_str()),
            ("群馬", "大間々")
        );
        assert!(NewApplication::problems(&application(), &p).is_empty());
    }

    #[test]
    fn bad_bank_data_names_its_field() {
        let p = Programme::midori_2024().unwrap();
        type Spoil = fn(&mut StoreApplication);
        let cases: Vec<(Spoil, &str)> = vec![
            (
                |a| a.bank_account.bank_code = "9998".into(),
                "bank_account.bank_code",
            ),
            (
                |a| a.bank_account.bank_code = "12".into(),
                "bank_account.bank_code",
            ),
            (
                |a| a.bank_account.branch_code = "999".into(),
                "bank_account.branch_code",
            ),
            (
                |a| a.bank_account.account_number = "12-3456-78".into(),
                "bank_account.account_number",
            ),
            (
                |a| a.bank_account.holder_name = "緑商店".into(),
                "bank_account.holder_name",
            ),
            (|a| a.representative = " ".into(), "representative"),
            (|a| a.phone = "12".into(), "phone"),
            (|a| a.postal_code = "371-0001".into(), "postal_code"),
        ];
        for (spoil, field) in cases {
            let mut req = application();
            spoil(&mut req);
            let err = NewApplication::parse(&req, &p).unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            let problems = NewApplication::problems(&req, &p);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].0, field);
        }
        let mut req = application();
        req.bank_account.holder_name = "緑商店".into();
        let err = NewApplication::parse(&req, &p).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Bank(BankError::Holder(KanaError::Unconvertible(_)))
        ));
        assert!(
            err.message_ja().contains("「緑」「商」「店」"),
            "{}",
            err.message_ja()
        );
    }

    #[test]
    fn the_form_lists_every_problem_at_once() {
        let p = Programme::midori_2024().unwrap();
        let mut req = application();
        req.kana = "Midori".into();
        req.bank_account.branch_code = "1".into();
        req.email = Some("nope".into());
        let fields: Vec<String> = NewApplication::problems(&req, &p)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["kana", "email", "bank_account.branch_code"]);
    }
}
