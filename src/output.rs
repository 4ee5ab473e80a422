//! Output files that appear whole or not at all, and never replace their input.

use std::fs::File;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The default output beside the input: `jets.root` → `jets.parquet`.
pub fn default_output(input: &Path) -> PathBuf {
    input.with_extension("parquet")
}

/// Refuses an output that is the input itself, or that exists when `force` is off.
///
/// # Errors
/// [`Error::OutputIsInput`] or [`Error::OutputExists`].
pub fn check_output(input: &Path, output: &Path, force: bool) -> Result<()> {
    if same_file(input, output) {
        return Err(Error::OutputIsInput {
            path: output.to_owned(),
        });
    }
    if output.exists() && !force {
        return Err(Error::OutputExists {
            path: output.to_owned(),
        });
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), canonical_target(b)) {
        (Ok(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The canonical path of a file that may not exist yet.
fn canonical_target(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(path.file_name()?))
}

/// A file written under a temporary name beside its destination and renamed into place by
/// [`AtomicFile::commit`]. Dropped without a commit, it is deleted.
pub struct AtomicFile {
    tmp: NamedTempFile,
    path: PathBuf,
    overwrite: bool,
}

impl AtomicFile {
    /// Creates the temporary file in the destination's folder.
    ///
    /// # Errors
    /// [`Error::Write`] when the folder is missing or not writable.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // As any new file: readable by others unless the umask says otherwise (the temporary
        // file would otherwise keep its private 0600).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            tmp,
            path: path.to_owned(),
            overwrite,
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Another handle to the open temporary file, for a writer that must own one.
    ///
    /// # Errors
    /// [`Error::Write`] when the handle cannot be duplicated.
    pub fn handle(&self) -> Result<File> {
        self.tmp
            .as_file()
            .try_clone()
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the file to disk and moves it to its destination.
    ///
    /// # Errors
    /// [`Error::Write`] if syncing or renaming fails, or [`Error::OutputExists`] if the
    /// destination appeared meanwhile and overwriting is off.
    pub fn commit(self) -> Result<()> {
        let write_err = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        self.tmp.as_file().sync_all().map_err(write_err)?;
        let persisted = if self.overwrite {
            self.tmp.persist(&self.path)
        } else {
            self.tmp.persist_noclobber(&self.path)
        };
        match persisted {
            Ok(_) => Ok(()),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::OutputExists { path: self.path })
            }
            Err(e) => Err(Error::Write {
                path: self.path,
                source: e.error,
            }),
        }
    }
}
