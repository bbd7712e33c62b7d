// The one Wallet of the app and the WalletShell it calls back: the bridge between the core
// (through the generated bindings in ChiikiFFI.swift) and the SwiftUI screens. It forwards the
// resident's taps as events, publishes the view model, and carries out what only the phone can:
// the camera request, the Secure Enclave key, notifications.
//
// Threads: every call into the wallet (dispatch, resolve*) goes through one serial queue, in
// order, because dispatch runs the app and its SQLite cache on the caller's thread. The wallet
// calls WalletShell from any thread; published state changes only on the main queue. Key work
// has its own queue so that the Secure Enclave never holds up a tap.

import Foundation
import UIKit
import os.log

final class WalletHost: ObservableObject, @unchecked Sendable {
    // @unchecked Sendable: the published properties are read and written on the main queue
    // only; `wallet` is itself Sendable; the queues are.

    /// What the screens draw: the core's view model, as the core last rendered it.
    @Published private(set) var view: ViewModel
    /// The core's open scan request, answered with resolveScan; nil when none is open.
    @Published private(set) var cameraRequest: UInt64? = nil
    /// The resident unlocked the resident code since the app last came to the front.
    @Published private(set) var myCodeUnlocked = false

    private let wallet: Wallet
    private let walletQueue = DispatchQueue(label: "jp.chiiki.wallet-calls")
    private let keyQueue = DispatchQueue(label: "jp.chiiki.device-key", qos: .userInitiated)
    private let deviceKey: DeviceKey
    private let notifier: Notifier
    private let serverURL: String
    private let log = OSLog(subsystem: "jp.chiiki.midori", category: "wallet")

    /// A shell object handed to the wallet: it holds the host weakly, so that the wallet (which
    /// the host owns) does not keep the host alive in a cycle.
    private let shell: ShellRelay

    init(dataDirectory: URL, serverURL: String, deviceKey: DeviceKey, notifier: Notifier) throws {
        let relay = ShellRelay()
        let wallet = try Wallet(
            config: WalletConfig(dataDir: dataDirectory.path, deviceKey: .platform),
            shell: relay
        )
        self.serverURL = serverURL
        self.deviceKey = deviceKey
        self.notifier = notifier
        self.shell = relay
        self.wallet = wallet
        view = wallet.view()
        relay.host = self
    }

    /// Once per launch: the app was started.
    func start() {
        send(.started(serverUrl: serverURL, deviceName: UIDevice.current.name))
    }

    /// The app came back to the front: the core refreshes.
    func cameToFront() {
        send(.refreshRequested)
    }

    /// The app went to the background: the resident code needs unlocking again.
    func wentToBack() {
        onMain { $0.myCodeUnlocked = false }
    }

    /// What the resident did, as the core's event.
    func send(_ event: Event) {
        walletQueue.async { [wallet, log] in
            do {
                try wallet.dispatch(event: event)
            } catch {
                // Never the event itself: it may carry a PIN or a password.
                os_log("wallet refused an event: %{public}@", log: log, type: .error, String(describing: type(of: error)))
            }
        }
    }

    /// "マイコード": the phone's unlock first (once per time in front), then the core shows the code.
    func openMyCode() {
        if myCodeUnlocked {
            send(.myCodeOpened)
        } else {
            ResidentCodeLock.unlock { [weak self] in self?.unlockedMyCode() }
        }
    }

    /// "QRコードで支払う": the first time, ask for notifications (a payment may be confirmed after
    /// the phone went back in a pocket), then tell the core.
    func pay() {
        notifier.askOnce()
        send(.payTapped)
    }

    /// Biometrics or the passcode succeeded (or the phone has no passcode): show the code.
    func unlockedMyCode() {
        onMain { $0.myCodeUnlocked = true }
        send(.myCodeOpened)
    }

    /// The camera read a QR code.
    func scanned(_ payload: String) {
        answerScan(.scanned(payload: payload))
    }

    /// The resident closed the camera.
    func cancelScan() {
        answerScan(.cancelled)
    }

    /// No camera, or the resident refused it.
    func cameraUnavailable() {
        answerScan(.unavailable)
    }

    /// The camera shows while the core waits for a scan on the payment's scanning step.
    var cameraWanted: Bool {
        guard cameraRequest != nil, case .pay(view: .scanning(message: _)) = view.screen else { return false }
        return true
    }

    private func answerScan(_ outcome: ScanOutcome) {
        onMain { host in
            guard let id = host.cameraRequest else { return }
            host.cameraRequest = nil
            host.walletQueue.async {
                do {
                    try host.wallet.resolveScan(requestId: id, outcome: outcome)
                } catch {
                    os_log("scan answer refused: %{public}@", log: host.log, type: .error, String(describing: error))
                }
            }
        }
    }

    private func onMain(_ change: @escaping (WalletHost) -> Void) {
        if Thread.isMainThread {
            change(self)
        } else {
            DispatchQueue.main.async { change(self) }
        }
    }

    // MARK: What the wallet asks (WalletShell, through ShellRelay), from any thread.

    func render() {
        let latest = wallet.view()
        onMain { $0.view = latest }
    }

    func openCamera(requestId: UInt64) {
        // One scan at a time. A request still open here belongs to a payment the core has left
        // (the camera shows only on the scanning step); answering it now would cancel the new
        // one, so it is let go unanswered.
        onMain { $0.cameraRequest = requestId }
    }

    func useDeviceKey(requestId: UInt64, request: DeviceKeyRequest) {
        keyQueue.async { [self] in
            let response = deviceKey.answer(request)
            walletQueue.async { [self] in
                do {
                    try wallet.resolveDeviceKey(requestId: requestId, response: response)
                } catch {
                    os_log("device key answer refused: %{public}@", log: log, type: .error, String(describing: error))
                }
            }
        }
    }

    func showNotification(notification: Notification) {
        notifier.show(title: notification.title, body: notification.body)
    }
}

/// The object the wallet calls. It forwards to the host it was given, held weakly.
private final class ShellRelay: WalletShell, @unchecked Sendable {
    // @unchecked Sendable: `host` is set once, right after the wallet is made, before the
    // wallet can call any method.
    weak var host: WalletHost?

    func render() { host?.render() }
    func openCamera(requestId: UInt64) { host?.openCamera(requestId: requestId) }
    func useDeviceKey(requestId: UInt64, request: DeviceKeyRequest) {
        host?.useDeviceKey(requestId: requestId, request: request)
    }
    func showNotification(notification: Notification) { host?.showNotification(notification: notification) }
}
