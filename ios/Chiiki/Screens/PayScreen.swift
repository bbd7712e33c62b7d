// Paying a store, step by step as the core leads: scan the store's code, check it, the amount,
// the PIN, the wait for the server, the receipt. The camera is the host's (AVFoundation); this
// screen only gives it a place.

import SwiftUI
import UIKit

struct PayScreen: View {
    let view: PayView
    @ObservedObject var host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titlePay)
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    step
                }
                .padding(20)
            }
        }
    }

    @ViewBuilder private var step: some View {
        switch view {
        case .scanning(let message):
            Scanning(message: message, host: host)
        case .checking(let message):
            Busy(message: message)
        case let .amount(storeName, district, amountText, amount, amountFixed, pointsChoice, usePoints, canContinue):
            AmountStep(
                storeName: storeName, district: district, amountText: amountText, amount: amount,
                amountFixed: amountFixed, pointsChoice: pointsChoice, usePoints: usePoints,
                canContinue: canContinue, host: host
            )
            // A new store starts with a fresh field.
            .id(storeName)
        case let .pin(storeName, district, amount):
            PinStep(storeName: storeName, district: district, amount: amount, host: host)
        case let .confirming(storeName, amount, message):
            StoreHeading(name: storeName, district: nil)
            LabelledValue(label: Chrome.amountToPay, value: amount, large: true)
            Busy(message: message)
        case let .receipt(storeName, amount, paidAt, legs, balanceAfter):
            Receipt(storeName: storeName, amount: amount, paidAt: paidAt, legs: legs, balanceAfter: balanceAfter, host: host)
        }
    }
}

private struct StoreHeading: View {
    let name: String
    let district: String?

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(name).font(.title).fontWeight(.bold).fixedSize(horizontal: false, vertical: true)
            if let district = district {
                Text(district).font(.body).foregroundColor(Palette.secondaryText)
            }
        }
        .accessibilityElement(children: .combine)
        .accessibility(addTraits: .isHeader)
    }
}

private struct Scanning: View {
    let message: String
    @ObservedObject var host: WalletHost

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text(message).font(.headline).fixedSize(horizontal: false, vertical: true)
            if host.cameraWanted {
                QRScannerView(onScanned: host.scanned, onUnavailable: host.cameraUnavailable)
                    .aspectRatio(1, contentMode: .fit)
                    .overlay(RoundedRectangle(cornerRadius: 12).stroke(Palette.green, lineWidth: 4))
                    .cornerRadius(12)
                    .accessibilityElement(children: .ignore)
                    .accessibility(label: Text(Chrome.cameraPreview))
            }
            SecondaryButton(title: Chrome.cancel) {
                if host.cameraWanted { host.cancelScan() } else { host.send(.paymentCancelled) }
            }
        }
        .onAppear { UIApplication.shared.isIdleTimerDisabled = true }
        .onDisappear { UIApplication.shared.isIdleTimerDisabled = false }
    }
}

private struct AmountStep: View {
    let storeName: String
    let district: String
    let amountText: String
    let amount: String?
    let amountFixed: Bool
    let pointsChoice: String?
    let usePoints: Bool
    let canContinue: Bool
    let host: WalletHost
    @State private var typed: String?

    var body: some View {
        // What the resident types stays in the field; the core reads it and answers with the
        // amount it will charge (`amount`), shown beneath.
        let text = Binding<String>(
            get: { typed ?? amountText },
            set: { value in
                typed = value
                host.send(.amountEntered(text: value))
            }
        )
        let points = Binding<Bool>(get: { usePoints }, set: { host.send(.usePointsChosen(usePoints: $0)) })
        return VStack(alignment: .leading, spacing: 16) {
            StoreHeading(name: storeName, district: district)
            if amountFixed {
                LabelledValue(label: Chrome.amountToPay, value: amount ?? amountText, large: true)
            } else {
                LabelledField(label: Chrome.amount, text: text, keyboard: .numberPad)
                if let amount = amount {
                    LabelledValue(label: Chrome.amountToPay, value: amount, large: true)
                }
            }
            if let choice = pointsChoice {
                Toggle(isOn: points) {
                    Text(choice).font(.body).fixedSize(horizontal: false, vertical: true)
                }
                .frame(minHeight: 56)
            }
            PrimaryButton(title: Chrome.next, enabled: canContinue) { host.send(.amountConfirmed) }
            SecondaryButton(title: Chrome.cancel) { host.send(.paymentCancelled) }
        }
    }
}

private struct PinStep: View {
    let storeName: String
    let district: String
    let amount: String
    let host: WalletHost
    // Never saved anywhere: the PIN lives in this field until it is sent.
    @State private var pin = ""

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            StoreHeading(name: storeName, district: district)
            LabelledValue(label: Chrome.amountToPay, value: amount, large: true)
            LabelledField(label: Chrome.enterPin, text: $pin, keyboard: .numberPad, content: .oneTimeCode, secret: true)
            PrimaryButton(title: Chrome.payNow) { host.send(.pinEntered(pin: pin)) }
            SecondaryButton(title: Chrome.cancel) { host.send(.paymentCancelled) }
        }
    }
}

private struct Receipt: View {
    let storeName: String
    let amount: String
    let paidAt: String
    let legs: [LegView]
    let balanceAfter: String
    let host: WalletHost

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            HStack(spacing: 12) {
                Image(systemName: "checkmark.circle.fill")
                    .font(.largeTitle)
                    .foregroundColor(Palette.green)
                    .accessibility(hidden: true)
                Text(Chrome.paid).font(.title).fontWeight(.bold).fixedSize(horizontal: false, vertical: true)
            }
            .accessibilityElement(children: .combine)
            .accessibility(addTraits: .isHeader)
            StoreHeading(name: storeName, district: nil)
            LabelledValue(label: Chrome.amountToPay, value: amount, large: true)
            Text(paidAt).font(.body).foregroundColor(Palette.secondaryText)
            Divider().background(Palette.outline)
            ForEach(legs, id: \.self) { leg in
                ValueRow(label: leg.label, value: leg.amount)
            }
            Divider().background(Palette.outline)
            LabelledValue(label: Chrome.balanceAfter, value: balanceAfter)
            PrimaryButton(title: Chrome.done) { host.send(.homeOpened) }
        }
        .onAppear {
            UINotificationFeedbackGenerator().notificationOccurred(.success)
            UIAccessibility.post(notification: .announcement, argument: Chrome.paid)
        }
    }
}
