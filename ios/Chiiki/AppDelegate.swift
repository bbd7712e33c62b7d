// The app: one WalletHost for the life of the process, started once at launch. The window is
// the scene delegate's (iOS 13 has no SwiftUI App life cycle).

import UIKit

@main
final class AppDelegate: UIResponder, UIApplicationDelegate {
    /// The server of the city's programme; the demo server on this Mac in debug builds.
    private static let serverURL: String = {
        #if DEBUG
        return "http://127.0.0.1:8080"
        #else
        return "https://midori.chiiki.jp"
        #endif
    }()

    private(set) var host: WalletHost!

    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]?
    ) -> Bool {
        do {
            host = try WalletHost(
                dataDirectory: try AppDelegate.walletDirectory(),
                serverURL: AppDelegate.serverURL,
                deviceKey: DeviceKey(),
                notifier: Notifier()
            )
        } catch {
            // Without its data directory the wallet cannot work at all; there is nothing to show.
            fatalError("the wallet could not start: \(error)")
        }
        host.start()
        return true
    }

    /// Application Support/wallet, excluded from iCloud and iTunes backups: it holds the session
    /// and, while a payment waits for its answer, the PIN.
    private static func walletDirectory() throws -> URL {
        var directory = try FileManager.default
            .url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("wallet", isDirectory: true)
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication]
        )
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try directory.setResourceValues(values)
        return directory
    }

    func application(
        _ application: UIApplication,
        configurationForConnecting connectingSceneSession: UISceneSession,
        options: UIScene.ConnectionOptions
    ) -> UISceneConfiguration {
        UISceneConfiguration(name: "Default", sessionRole: connectingSceneSession.role)
    }
}
