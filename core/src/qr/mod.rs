//! QR codecs. (Being written.)
