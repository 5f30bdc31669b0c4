//! `meta.json` parsing: any bytes give a `Meta` or an `Error::Corrupt`, never a
//! panic; whatever parses writes back to bytes that parse to the same `Meta`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persist_core::meta::Meta;
use persist_core::Error;

fuzz_target!(|data: &[u8]| {
    match Meta::parse(data) {
        Ok(meta) => {
            let bytes = meta.to_bytes().expect("a parsed Meta serializes");
            let again = Meta::parse(&bytes).expect("written meta.json parses");
            assert_eq!(again, meta, "meta.json does not round-trip");
        }
        Err(Error::Corrupt { reason, .. }) => assert!(!reason.is_empty()),
        Err(other) => panic!("meta.json parse gave a non-Corrupt error: {other:?}"),
    }
});
