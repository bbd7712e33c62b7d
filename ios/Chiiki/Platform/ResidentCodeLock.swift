// The phone's own unlock (Face ID, Touch ID or the passcode) before the resident code is
// shown: whoever holds an unlocked phone can show its code at a till, so the code asks for the
// owner first. Once per time the app comes to the front.

import Foundation
import LocalAuthentication

enum ResidentCodeLock {
    /// Asks for the owner and calls `onUnlocked` on the main queue when they pass. A phone with
    /// no passcode at all has nothing to ask: the code is shown, as the phone itself is open
    /// to anyone. A cancelled or failed check leaves the code locked; the screen offers to try
    /// again.
    static func unlock(onUnlocked: @escaping () -> Void) {
        let context = LAContext()
        context.localizedCancelTitle = Chrome.cancel
        var problem: NSError?
        // Biometrics, falling back to the passcode.
        let policy = LAPolicy.deviceOwnerAuthentication
        guard context.canEvaluatePolicy(policy, error: &problem) else {
            if problem.flatMap({ LAError.Code(rawValue: $0.code) }) == .passcodeNotSet {
                onUnlocked()
            }
            return
        }
        context.evaluatePolicy(policy, localizedReason: Chrome.unlockReason) { success, _ in
            guard success else { return }
            DispatchQueue.main.async(execute: onUnlocked)
        }
    }
}
