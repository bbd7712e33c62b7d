// Colours and building blocks shared by the screens, with iOS 13 APIs only: large buttons (at
// least 56 pt high), titles VoiceOver announces as headers, amounts that never break across
// lines, and rows that stack at the accessibility text sizes. Every font is a text style, so
// Dynamic Type scales every word.

import SwiftUI
import UIKit

// MARK: Colours: at least 7:1 for text, in light and dark, stronger still with 'Increase Contrast'

enum Palette {
    static let green = dynamic(light: 0x005A2B, dark: 0x8CF0A8)
    static let onGreen = dynamic(light: 0xFFFFFF, dark: 0x00210C)
    static let greenContainer = dynamic(light: 0xC9EFD2, dark: 0x0F4A26)
    static let onGreenContainer = dynamic(light: 0x00210C, dark: 0xD9FBE1)
    static let warningContainer = dynamic(light: 0xFFE08A, dark: 0x4A3800)
    static let onWarningContainer = dynamic(light: 0x221A00, dark: 0xFFF0C7)
    static let errorText = dynamic(light: 0xA00000, dark: 0xFFB4AB)
    static let errorContainer = dynamic(light: 0xFFDAD6, dark: 0x690005)
    static let onErrorContainer = dynamic(light: 0x410002, dark: 0xFFDAD6)
    static let secondaryText = dynamic(light: 0x2B2F2C, dark: 0xE2E7E2)
    static let outline = dynamic(light: 0x4F5550, dark: 0xB5BCB6)
    static let card = dynamic(light: 0xF3F6F2, dark: 0x151916)

    private static func dynamic(light: UInt32, dark: UInt32) -> Color {
        Color(UIColor { traits in
            let hex = traits.userInterfaceStyle == .dark ? dark : light
            return UIColor(
                red: CGFloat((hex >> 16) & 0xFF) / 255,
                green: CGFloat((hex >> 8) & 0xFF) / 255,
                blue: CGFloat(hex & 0xFF) / 255,
                alpha: 1
            )
        })
    }
}

// MARK: Text size

extension ContentSizeCategory {
    /// The five accessibility sizes (Settings > Accessibility > Larger Text): rows then stack.
    var isAccessibilitySize: Bool {
        switch self {
        case .accessibilityMedium, .accessibilityLarge, .accessibilityExtraLarge,
             .accessibilityExtraExtraLarge, .accessibilityExtraExtraExtraLarge:
            return true
        default:
            return false
        }
    }
}

// MARK: Building blocks

/// The screen's title: an optional back button and a header that wraps at large sizes.
struct TitleBar<Trailing: View>: View {
    let title: String
    var onBack: (() -> Void)?
    let trailing: Trailing

    init(_ title: String, onBack: (() -> Void)? = nil, @ViewBuilder trailing: () -> Trailing) {
        self.title = title
        self.onBack = onBack
        self.trailing = trailing()
    }

    var body: some View {
        HStack(spacing: 8) {
            if let onBack = onBack {
                Button(action: onBack) {
                    Image(systemName: "chevron.left")
                        .font(.title)
                        .frame(minWidth: 48, minHeight: 48)
                }
                .accessibility(label: Text(Chrome.back))
            }
            Text(title)
                .font(.title)
                .fontWeight(.bold)
                .fixedSize(horizontal: false, vertical: true)
                .accessibility(addTraits: .isHeader)
            Spacer(minLength: 0)
            trailing
        }
        .padding(.horizontal, 16)
        .padding(.vertical, 8)
        .frame(minHeight: 64)
    }
}

extension TitleBar where Trailing == EmptyView {
    init(_ title: String, onBack: (() -> Void)? = nil) {
        self.init(title, onBack: onBack) { EmptyView() }
    }
}

/// The one thing to do next on a screen.
struct PrimaryButton: View {
    let title: String
    var enabled = true
    let action: () -> Void

    var body: some View {
        Button(action: action) {
            Text(title)
                .font(.headline)
                .multilineTextAlignment(.center)
                .fixedSize(horizontal: false, vertical: true)
                .frame(maxWidth: .infinity, minHeight: 56)
                .foregroundColor(Palette.onGreen)
                .background(Palette.green.opacity(enabled ? 1 : 0.4))
                .cornerRadius(28)
        }
        .disabled(!enabled)
    }
}

/// A way out or a second choice.
struct SecondaryButton: View {
    let title: String
    let action: () -> Void

    var body: some View {
        Button(action: action) {
            Text(title)
                .font(.headline)
                .multilineTextAlignment(.center)
                .fixedSize(horizontal: false, vertical: true)
                .frame(maxWidth: .infinity, minHeight: 56)
                .foregroundColor(Palette.green)
                .overlay(RoundedRectangle(cornerRadius: 28).stroke(Palette.outline, lineWidth: 1))
        }
    }
}

/// UIKit's spinner (SwiftUI's ProgressView needs iOS 14).
struct ActivityIndicator: UIViewRepresentable {
    func makeUIView(context: Context) -> UIActivityIndicatorView {
        let view = UIActivityIndicatorView(style: .large)
        view.startAnimating()
        return view
    }

    func updateUIView(_ view: UIActivityIndicatorView, context: Context) {}
}

/// A spinner with the core's words beside it; VoiceOver reads the words.
struct Busy: View {
    let message: String

    var body: some View {
        VStack(spacing: 16) {
            ActivityIndicator().accessibility(hidden: true)
            Text(message)
                .font(.body)
                .multilineTextAlignment(.center)
                .fixedSize(horizontal: false, vertical: true)
        }
        .frame(maxWidth: .infinity)
        .padding(24)
        .accessibilityElement(children: .combine)
    }
}

/// A message from the core about what went wrong.
struct ErrorMessage: View {
    let message: String

    var body: some View {
        Text(message)
            .font(.body)
            .fixedSize(horizontal: false, vertical: true)
            .foregroundColor(Palette.onErrorContainer)
            .padding(16)
            .frame(maxWidth: .infinity, alignment: .leading)
            .background(Palette.errorContainer)
            .cornerRadius(12)
    }
}

/// An amount or other short value that must not break across lines: drawn at the style's
/// size, and smaller only when the line is too narrow for it.
struct OneLine: View {
    let text: String
    var font: Font = .headline

    var body: some View {
        Text(text)
            .font(font)
            .fontWeight(.bold)
            .lineLimit(1)
            .minimumScaleFactor(0.4)
    }
}

/// A label above its value, read by VoiceOver as one item ("お支払い金額 ¥1,200").
struct LabelledValue: View {
    let label: String
    let value: String
    var large = false

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(label).font(.subheadline).foregroundColor(Palette.secondaryText)
            OneLine(text: value, font: large ? .largeTitle : .title)
        }
        .frame(maxWidth: .infinity, alignment: .leading)
        .accessibilityElement(children: .combine)
    }
}

/// A label and its value on one line, with an optional note; stacked at the accessibility sizes.
struct ValueRow: View {
    let label: String
    let value: String
    var note: String?
    @Environment(\.sizeCategory) var sizeCategory

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            if sizeCategory.isAccessibilitySize {
                Text(label).font(.body).fixedSize(horizontal: false, vertical: true)
                OneLine(text: value)
            } else {
                HStack(alignment: .firstTextBaseline) {
                    Text(label).font(.body).fixedSize(horizontal: false, vertical: true)
                    Spacer(minLength: 12)
                    OneLine(text: value)
                }
            }
            if let note = note {
                Text(note).font(.subheadline).foregroundColor(Palette.secondaryText)
            }
        }
        .frame(maxWidth: .infinity, alignment: .leading)
        .accessibilityElement(children: .combine)
    }
}

/// A text field with its label above it and the core's message for it below.
struct LabelledField: View {
    let label: String
    @Binding var text: String
    var error: String?
    var keyboard: UIKeyboardType = .default
    var content: UITextContentType?
    var secret = false

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(label)
                .font(.subheadline)
                .fontWeight(.bold)
                .foregroundColor(error == nil ? .primary : Palette.errorText)
                .fixedSize(horizontal: false, vertical: true)
            Group {
                if secret {
                    SecureField("", text: $text)
                } else {
                    TextField("", text: $text)
                }
            }
            .font(.body)
            .keyboardType(keyboard)
            .textContentType(content)
            .autocapitalization(.none)
            .disableAutocorrection(true)
            .padding(12)
            .frame(minHeight: 48)
            .overlay(RoundedRectangle(cornerRadius: 8).stroke(error == nil ? Palette.outline : Palette.errorText, lineWidth: error == nil ? 1 : 2))
            .accessibility(label: Text(label))
            if let error = error {
                Text(error)
                    .font(.subheadline)
                    .foregroundColor(Palette.errorText)
                    .fixedSize(horizontal: false, vertical: true)
            }
        }
    }
}
