// The camera while the core waits for a store's code: AVFoundation's preview layer and its
// metadata output, QR only (iOS 13 has no DataScanner). The first code read is handed over
// once; what it says is the core's to judge.

import AVFoundation
import SwiftUI
import UIKit

struct QRScannerView: UIViewControllerRepresentable {
    let onScanned: (String) -> Void
    let onUnavailable: () -> Void

    func makeUIViewController(context: Context) -> QRScannerController {
        let controller = QRScannerController()
        controller.onScanned = onScanned
        controller.onUnavailable = onUnavailable
        return controller
    }

    func updateUIViewController(_ controller: QRScannerController, context: Context) {
        controller.onScanned = onScanned
        controller.onUnavailable = onUnavailable
    }
}

final class QRScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
    var onScanned: ((String) -> Void)?
    var onUnavailable: (() -> Void)?

    private let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "jp.chiiki.camera")
    private var previewLayer: AVCaptureVideoPreviewLayer?
    private var handedOver = false

    override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .black
        // The preview is decoration; VoiceOver reads the frame's label (PayScreen).
        view.accessibilityElementsHidden = true
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            configure()
        case .notDetermined:
            // The system asks, with NSCameraUsageDescription (Info.plist) as the reason.
            AVCaptureDevice.requestAccess(for: .video) { [weak self] granted in
                DispatchQueue.main.async {
                    if granted { self?.configure() } else { self?.unavailable() }
                }
            }
        default:
            // Refused before (or restricted): the core tells the resident how to allow it.
            unavailable()
        }
    }

    override func viewDidLayoutSubviews() {
        super.viewDidLayoutSubviews()
        previewLayer?.frame = view.bounds
    }

    override func viewWillDisappear(_ animated: Bool) {
        super.viewWillDisappear(animated)
        sessionQueue.async { [session] in
            if session.isRunning { session.stopRunning() }
        }
    }

    private func configure() {
        guard
            let camera = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
            let input = try? AVCaptureDeviceInput(device: camera),
            session.canAddInput(input)
        else {
            unavailable()
            return
        }
        session.beginConfiguration()
        session.addInput(input)
        let output = AVCaptureMetadataOutput()
        guard session.canAddOutput(output) else {
            session.commitConfiguration()
            unavailable()
            return
        }
        session.addOutput(output)
        output.setMetadataObjectsDelegate(self, queue: .main)
        output.metadataObjectTypes = [.qr]
        session.commitConfiguration()

        let layer = AVCaptureVideoPreviewLayer(session: session)
        layer.videoGravity = .resizeAspectFill
        layer.frame = view.bounds
        view.layer.addSublayer(layer)
        previewLayer = layer

        // startRunning blocks until the camera is up: never on the main queue.
        sessionQueue.async { [session] in session.startRunning() }
    }

    private func unavailable() {
        guard !handedOver else { return }
        handedOver = true
        onUnavailable?()
    }

    func metadataOutput(
        _ output: AVCaptureMetadataOutput,
        didOutput metadataObjects: [AVMetadataObject],
        from connection: AVCaptureConnection
    ) {
        guard !handedOver,
              let code = metadataObjects.compactMap({ $0 as? AVMetadataMachineReadableCodeObject }).first,
              let payload = code.stringValue
        else { return }
        handedOver = true
        sessionQueue.async { [session] in session.stopRunning() }
        UINotificationFeedbackGenerator().notificationOccurred(.success)
        onScanned?(payload)
    }
}
