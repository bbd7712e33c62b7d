// The premium set sale: where it stands, the dates, the resident's application and the
// lottery's result, what to pay, how and by when, and the additional sale. Every sentence is
// the core's; the screen lays them out and sends the taps back.

import SwiftUI

struct SaleScreen: View {
    let view: SaleView
    let host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titleSale, onBack: { host.send(.homeOpened) })
            if let loading = view.loading {
                Busy(message: loading)
                Spacer(minLength: 0)
            } else {
                ScrollView {
                    VStack(alignment: .leading, spacing: 16) {
                        Text(view.title).font(.headline)
                        outcome
                        choices
                        actions
                        rules
                    }
                    .padding(20)
                }
            }
        }
    }

    // (Split in parts: a view builder takes at most ten views before iOS 17.)

    /// What the resident came for first: where the sale stands, the result and what to pay.
    @ViewBuilder private var outcome: some View {
        if let notice = view.notice {
            SaleParagraph(text: notice)
                .padding(16)
                .frame(maxWidth: .infinity, alignment: .leading)
                .background(Palette.greenContainer)
                .cornerRadius(12)
        }
        if let status = view.status { SaleParagraph(text: status) }
        if let result = view.result {
            Text(result).font(.headline).fixedSize(horizontal: false, vertical: true)
        }
        if !view.orders.isEmpty {
            SaleHeading(text: Chrome.saleToPay)
            ForEach(view.orders, id: \.self) { SaleOrderCard(order: $0) }
        }
        ForEach([view.application, view.held].compactMap { $0 }, id: \.self) { SaleParagraph(text: $0) }
        if let additional = view.additional {
            SaleHeading(text: Chrome.saleAdditional)
            SaleParagraph(text: additional)
        }
    }

    /// The offer and the dates, then the way back.
    @ViewBuilder private var rules: some View {
        if let offer = view.offer { SaleParagraph(text: offer) }
        schedule
        SecondaryButton(title: Chrome.done) { host.send(.homeOpened) }
    }

    @ViewBuilder private var schedule: some View {
        if !view.schedule.isEmpty {
            SaleHeading(text: Chrome.saleSchedule)
            ForEach(view.schedule, id: \.self) { item in
                VStack(alignment: .leading, spacing: 4) {
                    Text(item.label).font(.subheadline).foregroundColor(Palette.secondaryText)
                    SaleParagraph(text: item.dates)
                }
                .accessibilityElement(children: .combine)
            }
        }
    }

    @ViewBuilder private var choices: some View {
        if !view.setChoices.isEmpty {
            SaleHeading(text: Chrome.saleSets)
            ForEach(view.setChoices, id: \.self) { choice in
                Button(action: { host.send(.setsChosen(sets: choice.sets)) }) {
                    HStack(spacing: 12) {
                        Image(systemName: choice.selected ? "largecircle.fill.circle" : "circle")
                            .imageScale(.large)
                            .accessibility(hidden: true)
                        Text(choice.label)
                            .font(.body)
                            .fixedSize(horizontal: false, vertical: true)
                        Spacer(minLength: 0)
                    }
                    .frame(minHeight: 56)
                    .contentShape(Rectangle())
                }
                .disabled(view.busy != nil)
                .accessibility(addTraits: choice.selected ? [.isButton, .isSelected] : .isButton)
            }
        }
    }

    @ViewBuilder private var actions: some View {
        if let busy = view.busy {
            Busy(message: busy)
        }
        if let apply = view.applyLabel {
            PrimaryButton(title: apply, enabled: view.busy == nil) { host.send(.applySubmitted) }
        }
        if let buy = view.buyLabel {
            PrimaryButton(title: buy, enabled: view.busy == nil) { host.send(.additionalPurchaseTapped) }
        }
        if let withdraw = view.withdrawLabel, view.busy == nil {
            SecondaryButton(title: withdraw) { host.send(.withdrawTapped) }
        }
    }
}

private struct SaleHeading: View {
    let text: String

    var body: some View {
        Text(text).font(.headline).accessibility(addTraits: .isHeader)
    }
}

private struct SaleParagraph: View {
    let text: String

    var body: some View {
        Text(text).font(.body).fixedSize(horizontal: false, vertical: true)
    }
}

private struct SaleOrderCard: View {
    let order: SaleOrderView

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Text(order.title).font(.headline)
            SaleParagraph(text: order.amount)
            SaleParagraph(text: order.status)
            ValueRow(label: Chrome.saleOrderNumber, value: String(order.orderId))
            if let deadline = order.deadline {
                ValueRow(label: Chrome.saleDeadline, value: deadline)
            }
            if !order.howToPay.isEmpty {
                Text(Chrome.saleHowToPay).font(.subheadline).foregroundColor(Palette.secondaryText)
                ForEach(order.howToPay, id: \.self) { SaleParagraph(text: $0) }
            }
            if let paidAt = order.paidAt {
                ValueRow(label: Chrome.salePaidAt, value: paidAt)
            }
        }
        .padding(16)
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Palette.card)
        .cornerRadius(12)
    }
}
