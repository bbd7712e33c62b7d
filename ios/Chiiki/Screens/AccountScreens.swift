// Loading, login and registration. The fields hold what the resident types until they send
// it; whether it is right is the core's (and the server's) to say, in LoginView.error and
// RegistrationView.errors.

import SwiftUI

struct LoadingScreen: View {
    let message: String

    var body: some View {
        VStack(spacing: 8) {
            Spacer()
            Text(Chrome.appName)
                .font(.largeTitle)
                .fontWeight(.bold)
                .foregroundColor(Palette.green)
                .accessibility(addTraits: .isHeader)
            Busy(message: message)
            Spacer()
        }
    }
}

struct LoginScreen: View {
    let view: LoginView
    let host: WalletHost
    @State var phone = ""
    @State var password = ""

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titleLogin)
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    Text(Chrome.appName)
                        .font(.largeTitle)
                        .fontWeight(.bold)
                        .foregroundColor(Palette.green)
                        .accessibility(addTraits: .isHeader)
                    if let error = view.error {
                        ErrorMessage(message: error)
                    }
                    LabelledField(label: Chrome.phone, text: $phone, keyboard: .phonePad, content: .telephoneNumber)
                    LabelledField(label: Chrome.password, text: $password, content: .password, secret: true)
                    if view.busy {
                        Busy(message: Chrome.busy)
                    } else {
                        PrimaryButton(title: Chrome.logIn) {
                            host.send(.loginSubmitted(login: phone, password: password))
                        }
                    }
                    Button(action: { host.send(.registrationOpened) }) {
                        Text(Chrome.toRegistration)
                            .font(.body)
                            .foregroundColor(Palette.green)
                            .frame(maxWidth: .infinity, minHeight: 48)
                    }
                    .disabled(view.busy)
                }
                .padding(20)
            }
        }
    }
}

struct RegistrationScreen: View {
    let view: RegistrationView
    let host: WalletHost
    @State var form = RegistrationForm(
        name: "", kana: "", birthDate: "", postalCode: "", district: "", address: "",
        phone: "", email: "", password: "", pin: "", pinAgain: ""
    )

    private func error(_ field: FormField) -> String? {
        let messages = view.errors.filter { $0.field == field }.map { $0.message }
        return messages.isEmpty ? nil : messages.joined(separator: "\n")
    }

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titleRegistration, onBack: { host.send(.loginOpened) })
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    if let formError = error(.form) {
                        ErrorMessage(message: formError)
                    }
                    LabelledField(label: Chrome.name, text: $form.name, error: error(.name), content: .name)
                    LabelledField(label: Chrome.kana, text: $form.kana, error: error(.kana))
                    LabelledField(label: Chrome.birthDate, text: $form.birthDate, error: error(.birthDate))
                    LabelledField(
                        label: Chrome.postalCode, text: $form.postalCode, error: error(.postalCode),
                        keyboard: .numbersAndPunctuation, content: .postalCode
                    )
                    DistrictChoice(districts: view.districts, chosen: $form.district, error: error(.district))
                    LabelledField(label: Chrome.address, text: $form.address, error: error(.address), content: .fullStreetAddress)
                    LabelledField(
                        label: Chrome.phone, text: $form.phone, error: error(.phone),
                        keyboard: .phonePad, content: .telephoneNumber
                    )
                    LabelledField(label: Chrome.email, text: $form.email, keyboard: .emailAddress, content: .emailAddress)
                    LabelledField(
                        label: Chrome.password, text: $form.password, error: error(.password),
                        content: .newPassword, secret: true
                    )
                    LabelledField(label: Chrome.pin, text: $form.pin, error: error(.pin), keyboard: .numberPad, secret: true)
                    LabelledField(
                        label: Chrome.pinAgain, text: $form.pinAgain, error: error(.pinAgain),
                        keyboard: .numberPad, secret: true
                    )
                    if view.busy {
                        Busy(message: Chrome.busy)
                    } else {
                        PrimaryButton(title: Chrome.register) { host.send(.registrationSubmitted(form: form)) }
                    }
                    Button(action: { host.send(.loginOpened) }) {
                        Text(Chrome.toLogin)
                            .font(.body)
                            .foregroundColor(Palette.green)
                            .frame(maxWidth: .infinity, minHeight: 48)
                    }
                }
                .padding(20)
            }
        }
    }
}

/// The programme's districts as a list of choices: large targets, read one by one.
private struct DistrictChoice: View {
    let districts: [String]
    @Binding var chosen: String
    let error: String?

    var body: some View {
        VStack(alignment: .leading, spacing: 0) {
            Text(Chrome.district)
                .font(.subheadline)
                .fontWeight(.bold)
                .foregroundColor(error == nil ? .primary : Palette.errorText)
                .accessibility(addTraits: .isHeader)
            ForEach(districts, id: \.self) { district in
                Button(action: { chosen = district }) {
                    HStack(spacing: 12) {
                        Image(systemName: district == chosen ? "largecircle.fill.circle" : "circle")
                            .imageScale(.large)
                            .foregroundColor(Palette.green)
                        Text(district).font(.body).foregroundColor(.primary)
                        Spacer()
                    }
                    .frame(minHeight: 48)
                    .contentShape(Rectangle())
                }
                .accessibility(label: Text(district))
                .accessibility(addTraits: district == chosen ? [.isButton, .isSelected] : .isButton)
            }
            if let error = error {
                Text(error).font(.subheadline).foregroundColor(Palette.errorText)
            }
        }
    }
}
