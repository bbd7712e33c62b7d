// Draws the QR symbol the core rendered (MyCodeView.svg) as vectors: the SVG is one white
// square and one black path of module squares (qrcode's SVG renderer: M, h, v, H, V, z), so
// the path is redrawn as it is, scaled to the space on screen. Should the SVG ever be of
// another shape, the payload is drawn by Core Image's QR generator instead. Black on white in
// dark mode too, so that every store scanner reads it.

import CoreImage
import SwiftUI
import UIKit

struct QRSymbolView: View {
    let svg: String?
    let payload: String?
    let label: String

    var body: some View {
        Group {
            if let drawing = svg.flatMap(QRDrawing.init(svg:)) {
                GeometryReader { geometry in
                    drawing.path
                        .applying(CGAffineTransform(scaleX: geometry.size.width / drawing.side, y: geometry.size.width / drawing.side))
                        .fill(Color.black)
                }
                .background(Color.white)
            } else if let image = payload.flatMap(QRDrawing.generatedImage(payload:)) {
                Image(uiImage: image)
                    .interpolation(.none)
                    .resizable()
                    .background(Color.white)
            }
        }
        .aspectRatio(1, contentMode: .fit)
        .accessibilityElement(children: .ignore)
        .accessibility(label: Text(label))
        .accessibility(addTraits: .isImage)
    }
}

/// The parts of the core's SVG that are drawn: its square side and the dark modules' path.
struct QRDrawing {
    let side: CGFloat
    let path: Path

    init?(svg: String) {
        guard let side = QRDrawing.attribute("viewBox=\"0 0 ", in: svg, until: " ").flatMap(Double.init),
              side > 0,
              let data = QRDrawing.attribute(" d=\"", in: svg, until: "\""),
              let path = QRDrawing.parse(pathData: data)
        else { return nil }
        self.side = CGFloat(side)
        self.path = path
    }

    private static func attribute(_ prefix: String, in text: String, until end: Character) -> String? {
        guard let start = text.range(of: prefix)?.upperBound else { return nil }
        return String(text[start...].prefix { $0 != end })
    }

    /// The absolute and relative move, horizontal, vertical and close commands; nil on others.
    static func parse(pathData: String) -> Path? {
        var path = Path()
        var current = CGPoint.zero
        var command: Character = " "
        var numbers: [CGFloat] = []
        var token = ""

        func flushNumber() {
            if let value = Double(token) { numbers.append(CGFloat(value)) }
            token = ""
        }
        func apply() -> Bool {
            switch command {
            case "M", "m":
                guard numbers.count == 2 else { return false }
                current = command == "M" ? CGPoint(x: numbers[0], y: numbers[1])
                    : CGPoint(x: current.x + numbers[0], y: current.y + numbers[1])
                path.move(to: current)
            case "H", "h":
                guard numbers.count == 1 else { return false }
                current.x = command == "H" ? numbers[0] : current.x + numbers[0]
                path.addLine(to: current)
            case "V", "v":
                guard numbers.count == 1 else { return false }
                current.y = command == "V" ? numbers[0] : current.y + numbers[0]
                path.addLine(to: current)
            case "Z", "z":
                path.closeSubpath()
            case " ":
                break
            default:
                return false
            }
            numbers.removeAll()
            return true
        }

        for character in pathData {
            if character.isLetter {
                flushNumber()
                guard apply() else { return nil }
                command = character
            } else if character == " " || character == "," {
                flushNumber()
            } else if character == "-" && !token.isEmpty {
                flushNumber()
                token.append(character)
            } else {
                token.append(character)
            }
        }
        flushNumber()
        guard apply() else { return nil }
        return path
    }

    /// The payload drawn by Core Image (iOS 5+), one pixel per module, for scaling up crisply.
    static func generatedImage(payload: String) -> UIImage? {
        guard let filter = CIFilter(name: "CIQRCodeGenerator") else { return nil }
        filter.setValue(Data(payload.utf8), forKey: "inputMessage")
        filter.setValue("M", forKey: "inputCorrectionLevel")
        guard let image = filter.outputImage,
              let cgImage = CIContext().createCGImage(image, from: image.extent)
        else { return nil }
        return UIImage(cgImage: cgImage)
    }
}
