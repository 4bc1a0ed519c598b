//! op-program's "directory" key-value format: `<dir>/kvformat` holds `directory`; the value of a key lives in
//! `<dir>/<first 4 hex digits>/<remaining 60 hex digits>.txt` as lowercase hex text, written to a temporary name
//! and renamed.

use crate::{PreimageError, PreimageKey};
use alloy_primitives::hex;
use std::path::{Path, PathBuf};

/// A directory of preimages, one file per key.
#[derive(Debug, Clone)]
pub struct KvDirectory {
    root: PathBuf,
}

impl KvDirectory {
    fn error(&self, reason: impl std::fmt::Display) -> PreimageError {
        PreimageError::Directory { path: self.root.display().to_string(), reason: reason.to_string() }
    }

    /// Creates (or opens) a directory store at `root`.
    pub fn create(root: &Path) -> Result<Self, PreimageError> {
        let store = Self { root: root.to_path_buf() };
        std::fs::create_dir_all(root).map_err(|e| store.error(format!("create: {e}")))?;
        let marker = root.join("kvformat");
        match std::fs::read_to_string(&marker) {
            Ok(text) if text.trim() == "directory" => {}
            Ok(text) => return Err(store.error(format!("kvformat says `{}`, not `directory`", text.trim()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(&marker, "directory")
                    .map_err(|e| store.error(format!("write kvformat: {e}")))?;
            }
            Err(e) => return Err(store.error(format!("read kvformat: {e}"))),
        }
        Ok(store)
    }

    /// Opens an existing directory store.
    pub fn open(root: &Path) -> Result<Self, PreimageError> {
        let store = Self { root: root.to_path_buf() };
        let marker = std::fs::read_to_string(root.join("kvformat"))
            .map_err(|e| store.error(format!("not a key-value directory (kvformat: {e})")))?;
        if marker.trim() != "directory" {
            return Err(store.error(format!("kvformat says `{}`, not `directory`", marker.trim())));
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &PreimageKey) -> PathBuf {
        let name = hex::encode(key.as_bytes());
        self.root.join(&name[..4]).join(format!("{}.txt", &name[4..]))
    }

    /// The value of `key`, if stored. A file that is not hex is an error naming it.
    pub fn get(&self, key: &PreimageKey) -> Result<Option<Vec<u8>>, PreimageError> {
        let path = self.path(key);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("{}: {e}", path.display()))),
        };
        hex::decode(text.trim())
            .map(Some)
            .map_err(|e| self.error(format!("{}: not hex: {e}", path.display())))
    }

    /// Stores `value` under `key` (temporary file, then rename).
    pub fn put(&self, key: &PreimageKey, value: &[u8]) -> Result<(), PreimageError> {
        let path = self.path(key);
        let dir = path.parent().ok_or_else(|| self.error("key path has no parent"))?;
        std::fs::create_dir_all(dir).map_err(|e| self.error(format!("{}: {e}", dir.display())))?;
        let tmp = path.with_extension("txt.tmp");
        std::fs::write(&tmp, hex::encode(value))
            .map_err(|e| self.error(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.error(format!("{}: {e}", path.display())))
    }
}
