//! The files holding secrets through the real binary: `cairn init` creates `service.json` (the
//! cluster secret) and `identity.json` (the private key) 0600 and its directory 0700, the
//! daemon creates its data directories 0700, and `cairn daemon` refuses to start once others
//! may read either file, naming the file, its mode and the `chmod` that fixes it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_compat_tests::process::{LOCAL_PORTS, Peer, cairn_bin, init_peer};
use cairn_compat_tests::scratch_dir;

/// How long a refused daemon may take to exit (it refuses before binding anything).
const REFUSAL: Duration = Duration::from_secs(30);

fn mode_of(path: &Path) -> anyhow::Result<u32> {
    Ok(std::fs::metadata(path)?.mode() & 0o7777)
}

fn chmod(path: &Path, mode: u32) -> anyhow::Result<()> {
    Ok(std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(mode),
    )?)
}

/// Runs `cairn daemon` on `dir`, which must exit on its own within [`REFUSAL`]; returns its
/// exit code and stderr. A daemon that starts instead is killed and the test fails.
fn refused_daemon(dir: &Path) -> anyhow::Result<(i32, String)> {
    let err = dir.join("refused.err");
    let mut child = Command::new(cairn_bin()?)
        .arg("--config")
        .arg(dir)
        .arg("daemon")
        .envs(LOCAL_PORTS)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err)?)
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > REFUSAL {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "cairn daemon did not refuse to start within {REFUSAL:?}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status.code().unwrap_or(-1), std::fs::read_to_string(&err)?))
}

#[test]
fn init_writes_secrets_0600_and_the_daemon_refuses_them_once_others_may_read_them() -> anyhow::Result<()> {
    let scratch = scratch_dir("secrets")?;
    let dir = scratch.path().join("cairn");
    let (service, identity) = (dir.join("service.json"), dir.join("identity.json"));

    println!("cairn init creates the directory 0700 and both files 0600");
    init_peer(&dir, "solo")?;
    assert_eq!(mode_of(&dir)?, 0o700, "the config directory");
    assert_eq!(mode_of(&service)?, 0o600, "service.json");
    assert_eq!(mode_of(&identity)?, 0o600, "identity.json");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    println!("the daemon starts on them and creates its data directories 0700");
    let peer = Peer::start(&dir, &[])?;
    for data in ["ipfs", "snapshots"] {
        assert_eq!(mode_of(&dir.join(data))?, 0o700, "{data}/");
    }
    assert_eq!(peer.stop()?, 0, "a clean shutdown");
    assert_eq!(mode_of(&dir.join("backups"))?, 0o700, "backups/");

    println!("service.json readable by others: the daemon refuses, naming the fix");
    chmod(&service, 0o644)?;
    let (code, stderr) = refused_daemon(&dir)?;
    assert_eq!(code, 64, "{stderr}");
    let fix = format!(
        "{} is readable by others (mode 0644): run chmod 600 {}",
        service.display(),
        service.display()
    );
    assert!(stderr.contains(&fix), "{stderr:?} should say {fix:?}");

    println!("identity.json writable by its group: refused as well");
    chmod(&service, 0o600)?;
    chmod(&identity, 0o620)?;
    let (code, stderr) = refused_daemon(&dir)?;
    assert_eq!(code, 64, "{stderr}");
    let fix = format!(
        "{} is writable by others (mode 0620): run chmod 600 {}",
        identity.display(),
        identity.display()
    );
    assert!(stderr.contains(&fix), "{stderr:?} should say {fix:?}");

    println!("after the chmod the daemon starts again");
    chmod(&identity, 0o600)?;
    let peer = Peer::start(&dir, &[])?;
    assert_eq!(peer.stop()?, 0);
    Ok(())
}
