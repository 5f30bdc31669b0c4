//! The backend of a store URL: the object store each scheme names, built from
//! the environment (see [`Store::open_url`](crate::Store::open_url)).

use std::sync::Arc;

use object_store::ObjectStore;

use crate::backend::object_store::{to_io, ObjectStoreBackend};
use crate::backend::{Backend, LocalBackend};
use crate::error::{Error, Result};

/// The backend of the store at `url`.
pub(super) fn backend(url: &str) -> Result<Arc<dyn Backend>> {
    use object_store::ObjectStoreScheme;
    let bad = |reason: String| Error::InvalidKey {
        record: String::new(),
        reason: format!("store URL `{url}`: {reason}"),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let (scheme, path) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
    let build_err = |e: object_store::Error| Error::Io {
        record: String::new(),
        path: url.to_owned(),
        source: to_io(e),
    };
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::Local => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            return Ok(Arc::new(LocalBackend::new(dir)?));
        }
        ObjectStoreScheme::Memory => Arc::new(object_store::memory::InMemory::new()),
        ObjectStoreScheme::AmazonS3 => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        ObjectStoreScheme::GoogleCloudStorage => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        ObjectStoreScheme::MicrosoftAzure => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(build_err)?,
        ),
        other => {
            return Err(bad(format!(
                "{other:?} is not supported; use s3://, gs://, az://, memory:/// or file://"
            )))
        }
    };
    let backend = ObjectStoreBackend::new(store, path.as_ref())?.with_url(url);
    Ok(Arc::new(backend))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn open_url(url: &str) -> Result<Store> {
        Store::open_url(url)
    }

    #[test]
    fn open_url_forms() {
        let store = open_url("memory:///some/prefix").unwrap();
        let b = store.backend();
        assert_eq!(b.describe("a/b"), "memory:///some/prefix/a/b");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let local = open_url(&url).unwrap();
        assert!(local.backend().local_path("x").is_some());
        assert!(matches!(
            open_url("ftp://host/x"),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            open_url("not a url"),
            Err(Error::InvalidKey { .. })
        ));
    }
}
