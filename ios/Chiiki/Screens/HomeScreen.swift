// Home: what the resident can spend, purse by purse, and the two ways to pay. (Pull to refresh
// needs iOS 15; the refresh button in the title does the same, and the core refreshes by itself
// when the app comes back to the front.)

import SwiftUI

struct HomeScreen: View {
    let view: HomeView
    let host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(view.greeting.isEmpty ? Chrome.tabHome : view.greeting) {
                Button(action: { host.send(.refreshRequested) }) {
                    Image(systemName: "arrow.clockwise")
                        .imageScale(.large)
                        .frame(minWidth: 48, minHeight: 48)
                }
                .accessibility(label: Text(Chrome.refresh))
            }
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    if let pending = view.pendingPayment {
                        Text(pending)
                            .font(.body)
                            .fixedSize(horizontal: false, vertical: true)
                            .foregroundColor(Palette.onWarningContainer)
                            .padding(16)
                            .frame(maxWidth: .infinity, alignment: .leading)
                            .background(Palette.warningContainer)
                            .cornerRadius(12)
                    }
                    balance
                    if let updated = view.lastUpdated {
                        Text(updated).font(.subheadline).foregroundColor(Palette.secondaryText)
                    }
                    PrimaryButton(title: Chrome.payButton) { host.pay() }
                    SecondaryButton(title: Chrome.myCodeButton) { host.openMyCode() }
                    SecondaryButton(title: Chrome.pointsButton) { host.send(.pointsOpened) }
                    SecondaryButton(title: Chrome.saleButton) { host.send(.saleOpened) }
                    Button(action: { host.send(.logoutTapped) }) {
                        Text(Chrome.logOut)
                            .font(.body)
                            .foregroundColor(Palette.green)
                            .frame(maxWidth: .infinity, minHeight: 48)
                    }
                }
                .padding(20)
            }
        }
    }

    private var balance: some View {
        VStack(alignment: .leading, spacing: 12) {
            LabelledValue(label: Chrome.balanceTotal, value: view.total, large: true)
            ForEach(view.purses, id: \.self) { purse in
                Divider().background(Palette.outline)
                ValueRow(label: purse.label, value: purse.balance, note: purse.expiry)
            }
            Divider().background(Palette.outline)
            ValueRow(label: Chrome.points, value: view.points)
        }
        .padding(20)
        .foregroundColor(Palette.onGreenContainer)
        .background(Palette.greenContainer)
        .cornerRadius(16)
    }
}
