// The community points: what can be spent, when each part lapses, and the activities that
// earned them. Every sentence is the core's; the screen lays them out.

import SwiftUI

struct PointsScreen: View {
    let view: PointsView
    let host: WalletHost

    var body: some View {
        VStack(spacing: 0) {
            TitleBar(Chrome.titlePoints, onBack: { host.send(.homeOpened) })
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    if let notice = view.notice {
                        PointsParagraph(text: notice)
                            .padding(16)
                            .frame(maxWidth: .infinity, alignment: .leading)
                            .background(Palette.greenContainer)
                            .cornerRadius(12)
                    }
                    balance
                    PointsParagraph(text: view.explanation)
                    if let busy = view.busy {
                        Busy(message: busy)
                    }
                    activities
                    SecondaryButton(title: Chrome.done) { host.send(.homeOpened) }
                }
                .padding(20)
            }
        }
    }

    /// What can be spent, then each part with the last day it can be spent.
    private var balance: some View {
        VStack(alignment: .leading, spacing: 12) {
            LabelledValue(label: Chrome.pointsBalance, value: view.balance, large: true)
            ForEach(view.lots, id: \.self) { lot in
                Divider().background(Palette.outline)
                ValueRow(label: lot.expires, value: lot.points)
            }
        }
        .padding(20)
        .foregroundColor(Palette.onGreenContainer)
        .background(Palette.greenContainer)
        .cornerRadius(16)
    }

    @ViewBuilder private var activities: some View {
        Text(Chrome.pointsActivities).font(.headline).accessibility(addTraits: .isHeader)
        if view.activities.isEmpty && view.busy == nil {
            PointsParagraph(text: Chrome.pointsNoActivities)
        }
        ForEach(view.activities, id: \.self) { PointsActivityCard(activity: $0) }
    }
}

private struct PointsParagraph: View {
    let text: String

    var body: some View {
        Text(text).font(.body).fixedSize(horizontal: false, vertical: true)
    }
}

/// One activity, read by VoiceOver as one item: the event, where, the points and their dates.
private struct PointsActivityCard: View {
    let activity: PointsActivityView

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            ValueRow(label: activity.event, value: activity.points)
            PointsParagraph(text: activity.place)
            Text(activity.earnedOn).font(.subheadline).foregroundColor(Palette.secondaryText)
            Text("\(Chrome.pointsExpiry) \(activity.expires)")
                .font(.subheadline)
                .foregroundColor(Palette.secondaryText)
                .fixedSize(horizontal: false, vertical: true)
        }
        .padding(16)
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Palette.card)
        .cornerRadius(12)
        .accessibilityElement(children: .combine)
    }
}
