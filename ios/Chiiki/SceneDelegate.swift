// The window: the SwiftUI screens in a UIHostingController. When the app comes back to the
// front the core refreshes; when it goes to the background the resident code locks.

import SwiftUI
import UIKit

final class SceneDelegate: UIResponder, UIWindowSceneDelegate {
    var window: UIWindow?
    private var launched = true

    private var host: WalletHost? {
        (UIApplication.shared.delegate as? AppDelegate)?.host
    }

    func scene(_ scene: UIScene, willConnectTo session: UISceneSession, options connectionOptions: UIScene.ConnectionOptions) {
        guard let windowScene = scene as? UIWindowScene, let host = host else { return }
        let window = UIWindow(windowScene: windowScene)
        window.rootViewController = UIHostingController(rootView: RootView(host: host))
        window.tintColor = UIColor(red: 0, green: 0x5A / 255, blue: 0x2B / 255, alpha: 1)
        window.makeKeyAndVisible()
        self.window = window
    }

    func sceneWillEnterForeground(_ scene: UIScene) {
        // The launch itself sent Started; later returns to the front refresh.
        if launched {
            launched = false
        } else {
            host?.cameToFront()
        }
    }

    func sceneDidEnterBackground(_ scene: UIScene) {
        host?.wentToBack()
    }
}
