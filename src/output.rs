//! Output files that appear whole or not at all, and never replace their input.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The default output beside the input: `jets.root` → `jets.parquet`.
pub fn default_output(input: &Path) -> PathBuf {
    input.with_extension("parquet")
}

/// The size of a file in bytes; 0 when it cannot be read (sizes in reports).
pub fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
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
/// [`AtomicFile::commit`]. Dropped without a commit, it is deleted. A destination that is a
/// special file (a device such as `/dev/null`, a FIFO) is never replaced: it is written
/// directly.
pub struct AtomicFile {
    target: Target,
    path: PathBuf,
    overwrite: bool,
}

/// Where an [`AtomicFile`]'s bytes go.
enum Target {
    /// A temporary file beside the destination.
    Temporary(NamedTempFile),
    /// The special file itself.
    Special(File),
}

impl AtomicFile {
    /// Creates the temporary file in the destination's folder (or opens a special file).
    ///
    /// # Errors
    /// [`Error::Write`] when the folder is missing or not writable.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self> {
        let write_err = |source| Error::Write {
            path: path.to_owned(),
            source,
        };
        if is_special(path) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(write_err)?;
            return Ok(Self {
                target: Target::Special(file),
                path: path.to_owned(),
                overwrite,
            });
        }
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
        let tmp = builder.tempfile_in(dir).map_err(write_err)?;
        Ok(Self {
            target: Target::Temporary(tmp),
            path: path.to_owned(),
            overwrite,
        })
    }

    /// The open file being written.
    pub fn file(&mut self) -> &mut File {
        match &mut self.target {
            Target::Temporary(t) => t.as_file_mut(),
            Target::Special(f) => f,
        }
    }

    /// Another handle to the open file, for a writer that must own one.
    ///
    /// # Errors
    /// [`Error::Write`] when the handle cannot be duplicated.
    pub fn handle(&self) -> Result<File> {
        let file = match &self.target {
            Target::Temporary(t) => t.as_file(),
            Target::Special(f) => f,
        };
        file.try_clone().map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the bytes are until the commit, when that is a file that can be read back (not a
    /// special file).
    pub fn written_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Temporary(t) => Some(t.path()),
            Target::Special(_) => None,
        }
    }

    /// Flushes the file to disk and moves it to its destination.
    ///
    /// # Errors
    /// [`Error::Write`] if syncing or renaming fails, or [`Error::OutputExists`] if the
    /// destination appeared meanwhile and overwriting is off.
    pub fn commit(self) -> Result<()> {
        let tmp = match self.target {
            Target::Special(mut f) => {
                return f.flush().map_err(|source| Error::Write {
                    path: self.path,
                    source,
                });
            }
            Target::Temporary(t) => t,
        };
        let write_err = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        tmp.as_file().sync_all().map_err(write_err)?;
        let persisted = if self.overwrite {
            tmp.persist(&self.path)
        } else {
            tmp.persist_noclobber(&self.path)
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

/// Whether `path` is an existing file that is neither a regular file nor a folder: a device or
/// a FIFO, which is written in place rather than replaced.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// A folder written under a temporary name beside its destination and renamed into place by
/// [`AtomicDir::commit`], so that a dataset appears whole or not at all. Dropped without a
/// commit, it is deleted with what it holds.
pub struct AtomicDir {
    tmp: tempfile::TempDir,
    path: PathBuf,
    overwrite: bool,
}

impl AtomicDir {
    /// Starts a folder that will become `path`.
    ///
    /// # Errors
    /// [`Error::OutputExists`] when `path` exists and `overwrite` is off; [`Error::Write`].
    pub fn create(path: &Path, overwrite: bool) -> Result<Self> {
        if path.exists() && !overwrite {
            return Err(Error::OutputExists {
                path: path.to_owned(),
            });
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempdir_in(&dir)
            .map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            tmp,
            path: path.to_owned(),
            overwrite,
        })
    }

    /// Where a file `name` of the folder is written until the commit.
    pub fn join(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Moves the folder to its destination, replacing what was there when overwriting is on.
    ///
    /// # Errors
    /// [`Error::OutputExists`] if the destination appeared meanwhile and overwriting is off;
    /// [`Error::Write`] if the old destination cannot be removed or the rename fails.
    pub fn commit(self) -> Result<()> {
        let write_err = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        if self.path.exists() {
            if !self.overwrite {
                return Err(Error::OutputExists { path: self.path });
            }
            let old = std::fs::symlink_metadata(&self.path).map_err(write_err)?;
            if old.is_dir() {
                std::fs::remove_dir_all(&self.path).map_err(write_err)?;
            } else {
                std::fs::remove_file(&self.path).map_err(write_err)?;
            }
        }
        let tmp = self.tmp.keep();
        std::fs::rename(&tmp, &self.path).map_err(|source| {
            let _ = std::fs::remove_dir_all(&tmp);
            Error::Write {
                path: self.path.clone(),
                source,
            }
        })
    }
}
