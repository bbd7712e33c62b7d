// The resident's history and the store directory: lists the core has already filtered and
// worded; the screens lay them out and send back what was typed or chosen. (VStack inside a
// ScrollView rather than LazyVStack, which needs iOS 14; a history page and the city's ~400
// stores are small enough.)

import SwiftUI

struct HistoryScreen: View {
    let view: HistoryView
    let host: WalletHost
    @Environment(\.sizeCategory) var sizeCategory

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titleHistory, onBack: { host.send(.homeOpened) })
            ScrollView {
                VStack(alignment: .leading, spacing: 0) {
                    if let empty = view.emptyMessage {
                        Text(empty)
                            .font(.body)
                            .multilineTextAlignment(.center)
                            .frame(maxWidth: .infinity)
                            .padding(.vertical, 32)
                    }
                    ForEach(view.rows, id: \.id) { row in
                        HistoryRow(row: row, stacked: sizeCategory.isAccessibilitySize)
                        Divider().background(Palette.outline)
                    }
                    if view.loading {
                        Busy(message: Chrome.busy)
                    } else if view.canLoadMore {
                        SecondaryButton(title: Chrome.loadMore) { host.send(.moreHistoryRequested) }
                            .padding(.vertical, 16)
                    }
                }
                .padding(.horizontal, 20)
            }
        }
    }
}

private struct HistoryRow: View {
    let row: HistoryRowView
    let stacked: Bool

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            if stacked {
                Text(row.title).font(.headline).fixedSize(horizontal: false, vertical: true)
                OneLine(text: row.amount)
            } else {
                HStack(alignment: .firstTextBaseline) {
                    Text(row.title).font(.headline).fixedSize(horizontal: false, vertical: true)
                    Spacer(minLength: 12)
                    OneLine(text: row.amount)
                }
            }
            Text(row.date).font(.subheadline).foregroundColor(Palette.secondaryText)
            if let detail = row.detail {
                Text(detail).font(.subheadline).foregroundColor(Palette.secondaryText)
            }
        }
        .padding(.vertical, 12)
        .frame(maxWidth: .infinity, minHeight: 48, alignment: .leading)
        // One VoiceOver item per entry: "こむぎ堂ベーカリー -¥1,200 2025年1月10日 12:00 …".
        .accessibilityElement(children: .combine)
    }
}

struct StoresScreen: View {
    let view: StoresView
    let host: WalletHost
    @State var query = ""

    var body: some View {
        // The field keeps the resident's own typing; the core filters on every change
        // (a Binding's setter, since onChange needs iOS 14).
        let search = Binding<String>(
            get: { query },
            set: { text in
                query = text
                host.send(.storeSearchTyped(query: text))
            }
        )
        return VStack(spacing: 0) {
            TitleBar(Chrome.titleStores, onBack: { host.send(.homeOpened) })
            ScrollView {
                VStack(alignment: .leading, spacing: 12) {
                    HStack {
                        Image(systemName: "magnifyingglass").accessibility(hidden: true)
                        TextField(Chrome.searchStores, text: search)
                            .font(.body)
                            .disableAutocorrection(true)
                            .accessibility(label: Text(Chrome.searchStores))
                    }
                    .padding(12)
                    .frame(minHeight: 48)
                    .overlay(RoundedRectangle(cornerRadius: 8).stroke(Palette.outline, lineWidth: 1))
                    ChoiceRow(title: Chrome.industry, choices: view.industries) { host.send(.industryChosen(code: $0)) }
                    ChoiceRow(title: Chrome.districtFilter, choices: view.districts) { host.send(.districtChosen(district: $0)) }
                    Text(view.summary)
                        .font(.headline)
                        .accessibility(addTraits: .isHeader)
                    ForEach(view.stores, id: \.id) { store in
                        StoreRow(store: store)
                    }
                }
                .padding(20)
            }
        }
        .onAppear { query = view.query }
    }
}

/// A filter as a row of chips: "すべて" clears it; tapping the chosen chip again clears it too.
/// The chips come from the core (value, label, selected); the row only sends values back.
private struct ChoiceRow: View {
    let title: String
    let choices: [ChoiceView]
    let choose: (String?) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(title).font(.subheadline).fontWeight(.bold).accessibility(addTraits: .isHeader)
            ScrollView(.horizontal, showsIndicators: false) {
                HStack(spacing: 8) {
                    Chip(label: Chrome.all, selected: !choices.contains { $0.selected }) { choose(nil) }
                    ForEach(choices, id: \.value) { choice in
                        Chip(label: choice.label, selected: choice.selected) {
                            choose(choice.selected ? nil : choice.value)
                        }
                    }
                }
            }
        }
    }
}

private struct Chip: View {
    let label: String
    let selected: Bool
    let action: () -> Void

    var body: some View {
        Button(action: action) {
            Text(label)
                .font(.body)
                .padding(.horizontal, 16)
                .frame(minHeight: 48)
                .foregroundColor(selected ? Palette.onGreenContainer : .primary)
                .background(selected ? Palette.greenContainer : Color.clear)
                .overlay(RoundedRectangle(cornerRadius: 8).stroke(Palette.outline, lineWidth: 1))
                .cornerRadius(8)
        }
        .accessibility(addTraits: selected ? [.isButton, .isSelected] : .isButton)
    }
}

private struct StoreRow: View {
    let store: StoreRowView

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(store.name).font(.headline).fixedSize(horizontal: false, vertical: true)
            Text(store.kana).font(.footnote).foregroundColor(Palette.secondaryText)
            Text("\(store.industry)・\(store.district)").font(.subheadline)
            Text(store.address).font(.subheadline).foregroundColor(Palette.secondaryText)
        }
        .padding(16)
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Palette.card)
        .cornerRadius(12)
        .accessibilityElement(children: .combine)
    }
}
