//! The resident app: a crux_core App. (Being written.)
