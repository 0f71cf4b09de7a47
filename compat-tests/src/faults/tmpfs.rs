//! A tmpfs for a test: a data directory whose disk can be filled (ENOSPC) and freed.
//!
//! # Invariants
//! - Mounting needs root; without it the mount fails with a message saying so.
//! - The tmpfs is unmounted (lazily) when dropped.

/// A tmpfs mounted on a directory; unmounted when dropped.
pub struct Tmpfs {
    dir: std::path::PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB on `dir`, keeping the files `dir` held.
    pub fn mount_over(dir: &std::path::Path, mib: u32) -> anyhow::Result<Self> {
        let aside = dir.with_extension("aside");
        std::fs::rename(dir, &aside)?;
        std::fs::create_dir_all(dir)?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()?;
        anyhow::ensure!(
            status.success(),
            "mounting a tmpfs failed ({status}): the disk nemesis needs root, as CI has"
        );
        for entry in std::fs::read_dir(&aside)? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.join(entry.file_name()))?;
        }
        std::fs::remove_dir_all(&aside)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Fills the tmpfs (1 MiB writes into `filler` until ENOSPC).
    pub fn fill(&self) -> anyhow::Result<u64> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.dir.join("filler"))?;
        let block = vec![0x5a_u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match file.write(&block) {
                Ok(0) => return Ok(written),
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => return Ok(written),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Frees what [`Tmpfs::fill`] took.
    pub fn free(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.dir.join("filler")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}
