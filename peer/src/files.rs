//! Files and directories that only their owner may use: `service.json` (it holds the cluster
//! secret), `identity.json` (this peer's private key), and the directories cairn creates for
//! its data (the config directory, `snapshots/`, `backups/`; the embedded node creates `ipfs/`
//! the same way).
//!
//! # Owns
//! - [`write_private`]: a file written whole with mode 0600 from its first byte: a temporary
//!   file in the same directory is created 0600, written, fsync'd and renamed over the target,
//!   then the directory is fsync'd. A crash leaves the old file or the new one, never half of
//!   one, and no moment where others could open it.
//! - [`create_private_dir`]: creates a directory (and its missing parents) with mode 0700.
//!   A directory that already exists keeps the mode it has: cairn changes only what it creates.
//! - [`check_private`], [`check_mode`]: refuse a secret file that its group or others may read
//!   or write ([`Exposed`]), naming the file, its mode and the `chmod` that fixes it.
//!
//! # Not here
//! What the files hold: `config` reads `service.json`, `identity` reads `identity.json`.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The mode of a secret file.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a directory cairn creates.
pub const DIR_MODE: u32 = 0o700;
/// Permission bits of the group and others; none may be set on a secret file.
const GROUP_OTHERS: u32 = 0o077;

/// A secret file that someone other than its owner may read or write.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is {} by others (mode {:04o}): run chmod 600 {}",
    .path.display(),
    access(.mode),
    .mode,
    shell_word(.path)
)]
pub struct Exposed {
    /// The file.
    pub path: PathBuf,
    /// Its permission bits (`0o644`).
    pub mode: u32,
}

/// Why a private file could not be written or checked.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Its group or others may read or write it.
    #[error(transparent)]
    Exposed(#[from] Exposed),
    /// Its mode could not be read.
    #[error("cannot read the mode of {}", .path.display())]
    Inspect {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// It could not be written; the file at `path`, if any, is unchanged.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file being created or written (the temporary file, or the target of the rename).
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Refuses `path` when its group or others may read or write it. A file that does not exist
/// passes: whoever reads it reports that it is missing.
pub fn check_private(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(check_mode(path, &meta)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FileError::Inspect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Refuses `path`, whose metadata is `meta` (of an opened file, for instance), when its group
/// or others may read or write it.
pub fn check_mode(path: &Path, meta: &Metadata) -> Result<(), Exposed> {
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHERS == 0 {
        return Ok(());
    }
    Err(Exposed {
        path: path.to_path_buf(),
        mode,
    })
}

/// Writes `bytes` to `path` with mode 0600 (see the module docs).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let tmp = temporary(path);
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FileError::Write { path, source }
    };
    // A temporary file left by a crash may have any mode: it is replaced, never reused.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(&tmp)(e)),
        _ => {}
    }
    let written = write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(&tmp)(e));
    }
    sync_dir(path).map_err(failed(path))
}

/// Creates `path` and its missing parents with mode 0700; existing directories are left as
/// they are.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(path)
}

/// `.<name>.tmp` beside `path`.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename of a file in `path`'s directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// "readable", "writable" or "readable and writable", for the group and others' bits of `mode`.
fn access(mode: &u32) -> &'static str {
    match (mode & 0o044 != 0, mode & 0o022 != 0) {
        (true, true) => "readable and writable",
        (true, false) => "readable",
        (false, true) => "writable",
        (false, false) => "executable",
    }
}

/// `path` as one word of a shell command: as it is when it holds only safe characters, else
/// in single quotes.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_file_is_0600_and_replaces_the_old_one_and_any_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.json");
        std::fs::write(&path, "old, world-readable").unwrap();
        set_mode(&path, 0o644);
        std::fs::write(dir.path().join(".service.json.tmp"), "a crash's leftover").unwrap();
        set_mode(&dir.path().join(".service.json.tmp"), 0o666);

        write_private(&path, b"{}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(mode_of(&path), 0o600);
        assert!(!dir.path().join(".service.json.tmp").exists());
        check_private(&path).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        std::fs::create_dir(&path).unwrap(); // a rename over a directory fails
        let err = write_private(&path, b"key").unwrap_err();
        assert!(matches!(err, FileError::Write { .. }), "{err:?}");
        assert!(path.is_dir());
        assert!(!dir.path().join(".identity.json.tmp").exists());
    }

    #[test]
    fn created_directories_are_0700_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o755);
        let nested = dir.path().join("a").join("b");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode_of(&dir.path().join("a")), 0o700);
        assert_eq!(mode_of(&nested), 0o700);
        create_private_dir(dir.path()).unwrap();
        assert_eq!(
            mode_of(dir.path()),
            0o755,
            "a directory cairn did not create is left alone"
        );
    }

    #[test]
    fn a_file_others_may_use_is_refused_with_the_chmod_that_fixes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.json");
        std::fs::write(&path, "{}").unwrap();
        for (mode, access) in [
            (0o644, "readable"),
            (0o640, "readable"),
            (0o604, "readable"),
            (0o620, "writable"),
            (0o666, "readable and writable"),
            (0o610, "executable"),
        ] {
            set_mode(&path, mode);
            let err = check_private(&path).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} is {access} by others (mode {mode:04o}): run chmod 600 {}",
                    path.display(),
                    path.display()
                )
            );
        }
        for mode in [0o600, 0o400, 0o700] {
            set_mode(&path, mode);
            check_private(&path).unwrap();
        }
        check_private(&dir.path().join("absent.json")).unwrap();
    }

    #[test]
    fn the_chmod_command_quotes_a_path_the_shell_would_split() {
        assert_eq!(shell_word(Path::new("/a/b.json")), "/a/b.json");
        assert_eq!(
            shell_word(Path::new("/my dir/it's.json")),
            r"'/my dir/it'\''s.json'"
        );
    }
}
