// The resident's own code, for the store to scan. The core signs and rotates it (every 30 s,
// offline too); the host hides it until the resident has passed Face ID, Touch ID or the
// passcode, and the screen is at full brightness while the code shows.

import SwiftUI
import UIKit

struct MyCodeScreen: View {
    let view: MyCodeView
    let locked: Bool
    let host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titleMyCode, onBack: { host.send(.homeOpened) })
            ScrollView {
                VStack(spacing: 16) {
                    if locked {
                        Image(systemName: "lock.fill").font(.largeTitle).accessibility(hidden: true)
                        Text(Chrome.myCodeLocked)
                            .font(.body)
                            .multilineTextAlignment(.center)
                            .fixedSize(horizontal: false, vertical: true)
                        PrimaryButton(title: Chrome.unlock) { host.openMyCode() }
                    } else if view.svg != nil || view.payload != nil {
                        Text(view.caption)
                            .font(.headline)
                            .multilineTextAlignment(.center)
                            .fixedSize(horizontal: false, vertical: true)
                        QRSymbolView(svg: view.svg, payload: view.payload, label: Chrome.myCodeImage)
                            .frame(maxWidth: 360)
                            .padding(8)
                            .background(Color.white)
                            .modifier(FullBrightness())
                        if let updated = view.updated {
                            Text(updated).font(.body).foregroundColor(Palette.secondaryText)
                        }
                    } else if view.error == nil {
                        Busy(message: view.caption)
                    }
                    if let error = view.error {
                        ErrorMessage(message: error)
                    }
                }
                .padding(20)
            }
        }
    }
}

/// Full brightness while the code is on screen (store scanners read it better), and the
/// screen kept awake; both given back when it goes.
private struct FullBrightness: ViewModifier {
    @State private var previous: CGFloat?

    func body(content: Content) -> some View {
        content
            .onAppear {
                previous = UIScreen.main.brightness
                UIScreen.main.brightness = 1
                UIApplication.shared.isIdleTimerDisabled = true
            }
            .onDisappear {
                if let previous = previous { UIScreen.main.brightness = previous }
                UIApplication.shared.isIdleTimerDisabled = false
            }
    }
}
