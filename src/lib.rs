//! Examples and integration tests of persist.
