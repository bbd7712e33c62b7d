//! The public store application page: plain, accessible Japanese HTML with no script. Every
//! control has a visible label, errors are listed at the top (announced, linked to their
//! fields) and next to each field, and what was typed is kept. Pure rendering: the handler
//! parses, checks the CSRF token and stores.

use crate::programme::Programme;
use chiiki_core::protocol::{
    AccountType, BankAccountInput, Industry, SizeClass, StoreApplication, StoreApplicationReceived,
};
use serde::Deserialize;
use std::fmt::Write as _;

/// The form as posted (`application/x-www-form-urlencoded`). Everything is text here; it is
/// parsed into a [`StoreApplication`] like an API request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationForm {
    pub name: String,
    pub kana: String,
    pub romanised_name: String,
    pub industry: String,
    pub size_class: String,
    pub district: String,
    pub postal_code: String,
    pub address: String,
    pub representative: String,
    pub contact_name: String,
    pub phone: String,
    pub email: String,
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: String,
    pub account_number: String,
    pub holder_name: String,
    pub csrf_token: String,
}

impl ApplicationForm {
    /// The application the form describes, or the choices that were not made.
    pub fn to_application(&self) -> Result<StoreApplication, Vec<(String, String)>> {
        let mut missing = Vec::new();
        let industry = Industry::from_code(&self.industry);
        if industry.is_none() {
            missing.push(("industry".into(), "業種を選んでください。".into()));
        }
        let size_class = SizeClass::parse(&self.size_class);
        if size_class.is_none() {
            missing.push(("size_class".into(), "店舗の区分を選んでください。".into()));
        }
        let account_type = match self.account_type.as_str() {
            "ordinary" => Some(AccountType::Ordinary),
            "current" => Some(AccountType::Current),
            "savings" => Some(AccountType::Savings),
            _ => None,
        };
        if account_type.is_none() {
            missing.push(("account_type".into(), "預金種目を選んでください。".into()));
        }
        let (Some(industry), Some(size_class), Some(account_type)) =
            (industry, size_class, account_type)
        else {
            return Err(missing);
        };
        Ok(StoreApplication {
            name: self.name.clone(),
            kana: self.kana.clone(),
            romanised_name: self.romanised_name.clone(),
            industry,
            size_class,
            district: self.district.clone(),
            postal_code: self.postal_code.clone(),
            address: self.address.clone(),
            representative: self.representative.clone(),
            contact_name: self.contact_name.clone(),
            phone: self.phone.clone(),
            email: Some(self.email.clone()).filter(|e| !e.trim().is_empty()),
            bank_account: BankAccountInput {
                bank_code: self.bank_code.clone(),
                branch_code: self.branch_code.clone(),
                account_type,
                account_number: self.account_number.clone(),
                holder_name: self.holder_name.clone(),
            },
        })
    }

    fn value(&self, field: &str) -> &str {
        match field {
            "name" => &self.name,
            "kana" => &self.kana,
            "romanised_name" => &self.romanised_name,
            "industry" => &self.industry,
            "size_class" => &self.size_class,
            "district" => &self.district,
            "postal_code" => &self.postal_code,
            "address" => &self.address,
            "representative" => &self.representative,
            "contact_name" => &self.contact_name,
            "phone" => &self.phone,
            "email" => &self.email,
            "bank_code" => &self.bank_code,
            "branch_code" => &self.branch_code,
            "account_type" => &self.account_type,
            "account_number" => &self.account_number,
            "holder_name" => &self.holder_name,
            _ => "",
        }
    }
}

/// Text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Field names in error lists come from the API (`bank_account.bank_code`); the form's
/// controls are flat.
fn control(field: &str) -> &str {
    field.strip_prefix("bank_account.").unwrap_or(field)
}

const STYLE: &str = "body{font-family:sans-serif;line-height:1.7;margin:0;color:#1a1a1a;background:#fafaf7}\
main{max-width:40rem;margin:0 auto;padding:1rem}\
h1{font-size:1.6rem}fieldset{border:1px solid #888;margin:1.5rem 0;padding:1rem}\
legend{font-weight:bold;font-size:1.15rem;padding:0 .3rem}\
.field{margin:1rem 0}label,.label{display:block;font-weight:bold}\
input[type=text],input[type=tel],input[type=email],select{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box;border:2px solid #555}\
.hint{color:#444;font-size:.95rem;margin:.1rem 0}.req{color:#a00;font-size:.9rem;margin-left:.4rem}\
.error{color:#a00;font-weight:bold;margin:.2rem 0}[aria-invalid=true]{border-color:#a00!important}\
.summary{border:3px solid #a00;padding:.5rem 1rem;background:#fff}\
button{font-size:1.2rem;padding:.6rem 2rem;background:#16602e;color:#fff;border:0;cursor:pointer}\
:focus{outline:3px solid #f90;outline-offset:2px}";

struct Page<'a> {
    form: &'a ApplicationForm,
    problems: &'a [(String, String)],
    html: String,
}

impl Page<'_> {
    fn problem(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(f, _)| control(f) == field)
            .map(|(_, m)| m.as_str())
    }

    /// The label, hint and error of a control, and the attributes that tie them to it.
    fn start_field(&mut self, field: &str, label: &str, hint: Option<&str>) -> String {
        let mut described = Vec::new();
        let _ = write!(
            self.html,
            "<div class=\"field\"><label for=\"f-{field}\">{}<span class=\"req\">必須</span></label>",
            escape(label)
        );
        if let Some(hint) = hint {
            let _ = write!(
                self.html,
                "<p class=\"hint\" id=\"f-{field}-hint\">{}</p>",
                escape(hint)
            );
            described.push(format!("f-{field}-hint"));
        }
        let mut attributes = format!("id=\"f-{field}\" name=\"{field}\"");
        if let Some(message) = self.problem(field).map(str::to_string) {
            let _ = write!(
                self.html,
                "<p class=\"error\" id=\"f-{field}-error\">{}</p>",
                escape(&message)
            );
            described.push(format!("f-{field}-error"));
            attributes.push_str(" aria-invalid=\"true\"");
        }
        if !described.is_empty() {
            let _ = write!(attributes, " aria-describedby=\"{}\"", described.join(" "));
        }
        attributes
    }

    fn input(&mut self, field: &str, label: &str, kind: &str, extra: &str, hint: Option<&str>) {
        let attributes = self.start_field(field, label, hint);
        let value = escape(self.form.value(field));
        let required = if field == "email" { "" } else { " required" };
        let _ = write!(
            self.html,
            "<input type=\"{kind}\" {attributes} value=\"{value}\"{required} {extra}></div>"
        );
    }

    fn select(&mut self, field: &str, label: &str, options: &[(String, String)]) {
        let attributes = self.start_field(field, label, None);
        let _ = write!(
            self.html,
            "<select {attributes} required><option value=\"\">選んでください</option>"
        );
        for (value, text) in options {
            let selected = if self.form.value(field) == value {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                self.html,
                "<option value=\"{}\"{selected}>{}</option>",
                escape(value),
                escape(text)
            );
        }
        self.html.push_str("</select></div>");
    }
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(title)
    )
}

/// The application form, with what was typed and every problem found in it.
pub fn render_form(
    programme: &Programme,
    form: &ApplicationForm,
    problems: &[(String, String)],
    csrf_token: &str,
) -> String {
    let title = format!("{} 加盟店のお申し込み", programme.display_name);
    let mut page = Page {
        form,
        problems,
        html: head(&title),
    };
    let _ = write!(
        page.html,
        "<h1>{}</h1><p>{}の{}を、お店で使えるようにするためのお申し込みです。\
         市が内容を確かめてから、結果をお知らせします。すべての項目が必須です（メールアドレスを除く）。</p>",
        escape(&title),
        escape(&programme.city.name),
        escape(&programme.display_name)
    );
    if !problems.is_empty() {
        page.html.push_str(
            "<div class=\"summary\" role=\"alert\" aria-labelledby=\"summary-title\" tabindex=\"-1\">\
             <h2 id=\"summary-title\">入力内容をご確認ください</h2><ul>",
        );
        for (field, message) in problems {
            let _ = write!(
                page.html,
                "<li><a href=\"#f-{}\">{}</a></li>",
                escape(control(field)),
                escape(message)
            );
        }
        page.html.push_str("</ul></div>");
    }
    let _ = write!(
        page.html,
        "<form method=\"post\" action=\"{}\" accept-charset=\"utf-8\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        chiiki_core::protocol::paths::STORE_APPLY_PAGE,
        escape(csrf_token)
    );

    page.html
        .push_str("<fieldset><legend>お店について</legend>");
    page.input(
        "name",
        "店舗名",
        "text",
        "autocomplete=\"organization\" maxlength=\"60\"",
        Some("例: みどりマート大間々店"),
    );
    page.input(
        "kana",
        "店舗名のフリガナ",
        "text",
        "maxlength=\"100\"",
        Some("全角カタカナ（ひらがなでも可）"),
    );
    page.input(
        "romanised_name",
        "店舗名のローマ字表記",
        "text",
        "maxlength=\"25\" inputmode=\"latin\"",
        Some("QRコードに入ります。半角英数字25文字まで。例: MIDORI MART OMAMA"),
    );
    let industries: Vec<(String, String)> = Industry::ALL
        .iter()
        .map(|i| (i.code().to_string(), i.japanese_name().to_string()))
        .collect();
    page.select("industry", "業種", &industries);
    let sizes: Vec<(String, String)> = [SizeClass::Small, SizeClass::Large]
        .iter()
        .map(|s| (s.as_str().to_string(), s.japanese_name().to_string()))
        .collect();
    page.select("size_class", "店舗の区分", &sizes);
    let districts: Vec<(String, String)> = programme
        .city
        .districts
        .iter()
        .map(|d| (d.name.clone(), d.name.clone()))
        .collect();
    page.select("district", "地区", &districts);
    page.input(
        "postal_code",
        "郵便番号",
        "text",
        "autocomplete=\"postal-code\" inputmode=\"numeric\" maxlength=\"8\"",
        Some("例: 376-0101"),
    );
    page.input(
        "address",
        "住所（地区より後）",
        "text",
        "autocomplete=\"address-line1\" maxlength=\"200\"",
        Some("例: 大間々1-1-1"),
    );
    page.html
        .push_str("</fieldset><fieldset><legend>代表者とご連絡先</legend>");
    page.input(
        "representative",
        "代表者のお名前",
        "text",
        "maxlength=\"60\"",
        None,
    );
    page.input(
        "contact_name",
        "ご担当者のお名前",
        "text",
        "autocomplete=\"name\" maxlength=\"60\"",
        None,
    );
    page.input(
        "phone",
        "電話番号",
        "tel",
        "autocomplete=\"tel\" inputmode=\"tel\"",
        Some("例: 0277-00-0000"),
    );
    page.input(
        "email",
        "メールアドレス（任意）",
        "email",
        "autocomplete=\"email\"",
        None,
    );
    page.html
        .push_str("</fieldset><fieldset><legend>お支払いを受け取る口座</legend>");
    page.input(
        "bank_code",
        "金融機関コード",
        "text",
        "inputmode=\"numeric\" maxlength=\"4\"",
        Some("4桁の数字。例: 群馬銀行は 0128"),
    );
    page.input(
        "branch_code",
        "支店コード",
        "text",
        "inputmode=\"numeric\" maxlength=\"3\"",
        Some("3桁の数字"),
    );
    let kinds = vec![
        ("ordinary".to_string(), "普通".to_string()),
        ("current".to_string(), "当座".to_string()),
        ("savings".to_string(), "貯蓄".to_string()),
    ];
    page.select("account_type", "預金種目", &kinds);
    page.input(
        "account_number",
        "口座番号",
        "text",
        "inputmode=\"numeric\" maxlength=\"7\"",
        Some("7桁までの数字"),
    );
    page.input(
        "holder_name",
        "口座名義（カナ）",
        "text",
        "maxlength=\"60\"",
        Some("通帳のとおりにカナで。「株式会社」などはそのまま入力できます。"),
    );
    page.html.push_str(
        "</fieldset><p><button type=\"submit\">申し込む</button></p></form></main></body></html>",
    );
    page.html
}

/// The page after a successful application.
pub fn render_received(
    programme: &Programme,
    received: &StoreApplicationReceived,
    store_name: &str,
) -> String {
    let title = "お申し込みを受け付けました";
    let mut html = head(&format!("{title} | {}", programme.display_name));
    let bank = &received.bank_account;
    let _ = write!(
        html,
        "<h1>{title}</h1><p role=\"status\">{}のお申し込みを受け付けました。受付番号は <strong>{}</strong> です。\
         市が内容を確かめてから、結果をお知らせします。</p>\
         <h2>お支払いを受け取る口座</h2><dl>\
         <dt>金融機関</dt><dd>{}（{}）</dd><dt>支店</dt><dd>{}（{}）</dd>\
         <dt>口座番号</dt><dd>{}</dd><dt>口座名義（振込で使う表記）</dt><dd>{}</dd></dl>\
         <p>口座名義の表記が通帳と違う場合は、市の担当窓口にご連絡ください。</p></main></body></html>",
        escape(store_name),
        received.store_id,
        escape(&bank.bank_name),
        escape(&bank.bank_code),
        escape(&bank.branch_name),
        escape(&bank.branch_code),
        escape(&bank.account_number),
        escape(&bank.holder_name),
    );
    html
}

/// The page shown when the form's token is stale or missing (e.g. the page was open too long).
pub fn render_expired(programme: &Programme) -> String {
    let mut html = head(&format!(
        "もう一度お試しください | {}",
        programme.display_name
    ));
    let _ = write!(
        html,
        "<h1>もう一度お試しください</h1><p role=\"alert\">画面を開いてから時間がたったため、送信できませんでした。\
         <a href=\"{}\">お申し込みの画面</a>をもう一度開いて、入力し直してください。</p></main></body></html>",
        chiiki_core::protocol::paths::STORE_APPLY_PAGE
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_has_a_label_and_errors_are_tied_to_their_fields() {
        let p = Programme::midori_2024().unwrap();
        let form = ApplicationForm {
            name: "<script>".into(),
            ..ApplicationForm::default()
        };
        let problems = vec![("bank_account.bank_code".to_string(), "4桁です".to_string())];
        let html = render_form(&p, &form, &problems, "tok\"en");
        assert!(html.starts_with("<!doctype html><html lang=\"ja\">"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("value=\"tok&quot;en\""));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<a href=\"#f-bank_code\">4桁です</a>"));
        assert!(html.contains("aria-describedby=\"f-bank_code-hint f-bank_code-error\""));
        for field in [
            "name",
            "kana",
            "romanised_name",
            "industry",
            "size_class",
            "district",
            "postal_code",
            "address",
            "representative",
            "contact_name",
            "phone",
            "email",
            "bank_code",
            "branch_code",
            "account_type",
            "account_number",
            "holder_name",
        ] {
            assert!(
                html.contains(&format!("<label for=\"f-{field}\">")),
                "{field}"
            );
            assert!(
                html.contains(&format!("id=\"f-{field}\" name=\"{field}\"")),
                "{field}"
            );
        }
    }

    #[test]
    fn unchosen_options_are_reported_not_guessed() {
        let form = ApplicationForm {
            industry: "cafe".into(),
            ..ApplicationForm::default()
        };
        let missing = form.to_application().unwrap_err();
        let fields: Vec<&str> = missing.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["size_class", "account_type"]);
    }
}
