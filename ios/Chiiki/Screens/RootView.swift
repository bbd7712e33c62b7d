// The root of the resident app's screens: the offline banner, the current screen, the tab bar
// and the alert, all drawn from the core's one ViewModel. Store mode (a store's staff taking
// payments) is not in the core yet: when the core offers its views they become cases of
// ScreenView and screens here, drawn the same way.

import SwiftUI

struct RootView: View {
    @ObservedObject var host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            if let banner = host.view.offlineBanner {
                OfflineBanner(text: banner)
            }
            screen
                .frame(maxWidth: .infinity, maxHeight: .infinity)
            if let tab = WalletTab(screen: host.view.screen) {
                TabBar(current: tab, host: host)
            }
        }
        .alert(isPresented: alertShown) { alertContent }
    }

    @ViewBuilder private var screen: some View {
        switch host.view.screen {
        case .loading(let message):
            LoadingScreen(message: message)
        case .login(let view):
            LoginScreen(view: view, host: host)
        case .registration(let view):
            RegistrationScreen(view: view, host: host)
        case .home(let view):
            HomeScreen(view: view, host: host)
        case .history(let view):
            HistoryScreen(view: view, host: host)
        case .stores(let view):
            StoresScreen(view: view, host: host)
        case .pay(let view):
            PayScreen(view: view, host: host)
        case .myCode(let view):
            MyCodeScreen(view: view, locked: !host.myCodeUnlocked, host: host)
        case .sale(let view):
            SaleScreen(view: view, host: host)
        case .points(let view):
            PointsScreen(view: view, host: host)
        }
    }

    // MARK: The alert: the core's message, "もう一度ためす" when the core offers it, and 閉じる.

    private var alertShown: Binding<Bool> {
        // Closing goes through the buttons, which tell the core; the core then clears the alert.
        Binding(get: { host.view.alert != nil }, set: { _ in })
    }

    private var alertContent: Alert {
        guard let alert = host.view.alert else { return Alert(title: Text("")) }
        if let retry = alert.retryLabel {
            return Alert(
                title: Text(alert.message),
                primaryButton: .default(Text(retry)) { host.send(.retryTapped) },
                secondaryButton: .cancel(Text(Chrome.close)) { host.send(.alertDismissed) }
            )
        }
        return Alert(
            title: Text(alert.message),
            dismissButton: .default(Text(Chrome.close)) { host.send(.alertDismissed) }
        )
    }
}

private struct OfflineBanner: View {
    let text: String

    var body: some View {
        HStack(alignment: .top, spacing: 12) {
            Image(systemName: "exclamationmark.triangle.fill").accessibility(hidden: true)
            Text(text)
                .font(.subheadline)
                .fixedSize(horizontal: false, vertical: true)
            Spacer(minLength: 0)
        }
        .foregroundColor(Palette.onWarningContainer)
        .padding(.horizontal, 16)
        .padding(.vertical, 12)
        .background(Palette.warningContainer.edgesIgnoringSafeArea(.top))
        .accessibilityElement(children: .combine)
    }
}

/// The tabs of the signed-in app; paying has its own large button on Home.
enum WalletTab: CaseIterable {
    case home, myCode, history, stores

    init?(screen: ScreenView) {
        switch screen {
        case .home: self = .home
        case .myCode: self = .myCode
        case .history: self = .history
        case .stores: self = .stores
        // The sale and points screens are opened from Home and have their own way back.
        case .loading, .login, .registration, .pay, .sale, .points: return nil
        }
    }

    var label: String {
        switch self {
        case .home: return Chrome.tabHome
        case .myCode: return Chrome.tabMyCode
        case .history: return Chrome.tabHistory
        case .stores: return Chrome.tabStores
        }
    }

    var symbol: String {
        switch self {
        case .home: return "house.fill"
        case .myCode: return "qrcode"
        case .history: return "list.bullet"
        case .stores: return "mappin.and.ellipse"
        }
    }
}

/// A tab bar of plain buttons, so that the core (not a UITabBarController) says which screen
/// shows. Labels stay at the system tab bar's size, as in UIKit's own tab bars.
private struct TabBar: View {
    let current: WalletTab
    let host: WalletHost

    var body: some View {
        HStack(spacing: 0) {
            ForEach(WalletTab.allCases, id: \.self) { tab in
                Button(action: { open(tab) }) {
                    VStack(spacing: 4) {
                        Image(systemName: tab.symbol).imageScale(.large)
                        Text(tab.label).font(.caption).fontWeight(tab == current ? .bold : .regular)
                            .lineLimit(1)
                            .minimumScaleFactor(0.6)
                    }
                    .frame(maxWidth: .infinity, minHeight: 56)
                    .foregroundColor(tab == current ? Palette.green : Palette.secondaryText)
                    .contentShape(Rectangle())
                }
                .accessibility(label: Text(tab.label))
                .accessibility(addTraits: tab == current ? [.isButton, .isSelected] : .isButton)
            }
        }
        .padding(.top, 4)
        .background(Palette.card.edgesIgnoringSafeArea(.bottom))
    }

    private func open(_ tab: WalletTab) {
        guard tab != current else { return }
        switch tab {
        case .home: host.send(.homeOpened)
        case .myCode: host.openMyCode()
        case .history: host.send(.historyOpened)
        case .stores: host.send(.storesOpened)
        }
    }
}
