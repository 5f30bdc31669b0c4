//! Not public API: the object-store test suites' helpers.

use crate::store::Store;

/// Not public API: the S3 store of the test suites.
///
/// Reads `PERSIST_TEST_S3_URL` (as `.ci/ceph.sh start` prints it, with the
/// `AWS_*` variables). Unset: prints why the test is skipped and returns
/// `None`, unless `CI=true`, where it panics (CI must run the S3 tests). Set:
/// a store under a fresh prefix `<url>/<label>-<uuid>`, so tests never see
/// each other's records.
#[doc(hidden)]
pub fn test_store(label: &str) -> Option<Store> {
    let url = test_url(label)?;
    Some(Store::open_url(&url).unwrap_or_else(|e| panic!("cannot open the test store {url}: {e}")))
}

/// Not public API: the fresh URL [`test_store`] opens, `None` when skipped.
#[doc(hidden)]
pub fn test_url(label: &str) -> Option<String> {
    match std::env::var("PERSIST_TEST_S3_URL") {
        Ok(base) if !base.trim().is_empty() => Some(format!(
            "{}/{label}-{}",
            base.trim().trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        )),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PERSIST_TEST_S3_URL is not set but CI=true: the S3 tests must run in CI \
                     (start a server with `eval \"$(.ci/ceph.sh start)\"`)"
                );
            }
            eprintln!(
                "skipping `{label}` on S3: PERSIST_TEST_S3_URL is not set \
                 (run `eval \"$(.ci/ceph.sh start)\"` to start a local Ceph cluster, \
                 or `.ci/s3.sh` for the moto mock)"
            );
            None
        }
    }
}
