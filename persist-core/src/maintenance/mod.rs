//! Looking after a store as a whole: listing every record, verifying checksums,
//! removing what interrupted saves left behind. What the `persist` command runs.
