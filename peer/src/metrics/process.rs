//! This process's CPU time, memory, file descriptors and start time, read from Linux's
//! `/proc` at scrape time (the `process_*` metrics every Prometheus client library exports,
//! with their names and meanings).
//!
//! # Invariants
//! - A value that cannot be read is left out (another OS, a restricted `/proc`); the
//!   exposition never shows a made-up 0. Without `/proc/self/stat` there is no reading at all.
//! - Clock ticks are `USER_HZ`, 100 on every Linux architecture `/proc` reports in.

use std::path::Path;

/// `/proc` reports CPU and start times in these ticks per second.
const USER_HZ: f64 = 100.0;

/// What `/proc` says about this process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessReading {
    /// User and system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident memory, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory, bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit of open file descriptors.
    pub max_fds: Option<u64>,
    /// When the process started, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

/// This process now; `None` without a readable `/proc/self/stat`.
pub(super) fn read() -> Option<ProcessReading> {
    read_from(Path::new("/proc"))
}

/// The same from a `/proc`-shaped directory (`self/…` and `stat` under `proc`).
fn read_from(proc: &Path) -> Option<ProcessReading> {
    let stat = std::fs::read_to_string(proc.join("self/stat")).ok()?;
    let fields = StatFields::parse(&stat)?;
    let status = std::fs::read_to_string(proc.join("self/status")).unwrap_or_default();
    let limits = std::fs::read_to_string(proc.join("self/limits")).unwrap_or_default();
    let boot = std::fs::read_to_string(proc.join("stat")).ok();
    Some(ProcessReading {
        cpu_seconds: (fields.utime + fields.stime) as f64 / USER_HZ,
        resident_bytes: vm_rss_bytes(&status),
        virtual_bytes: fields.vsize,
        open_fds: std::fs::read_dir(proc.join("self/fd"))
            .ok()
            .map(|entries| entries.count() as u64),
        max_fds: max_open_files(&limits),
        start_time_seconds: boot
            .as_deref()
            .and_then(boot_time)
            .map(|btime| btime as f64 + fields.starttime as f64 / USER_HZ),
    })
}

/// The fields of `/proc/self/stat` used here (numbered from 1, as `proc(5)` does).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    /// 14: user-mode ticks.
    utime: u64,
    /// 15: kernel-mode ticks.
    stime: u64,
    /// 22: ticks after boot at which the process started.
    starttime: u64,
    /// 23: virtual memory size, bytes.
    vsize: u64,
}

impl StatFields {
    /// Reads after the command name, which is in parentheses and may hold spaces or `)`.
    fn parse(stat: &str) -> Option<Self> {
        let (_, rest) = stat.rsplit_once(')')?;
        // `rest` starts at field 3 (the state).
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Self {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
        })
    }
}

/// `VmRSS:  1234 kB` of `/proc/self/status`, in bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit on the `Max open files` line of `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` of `/proc/stat`: the boot time, seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_command_name_with_spaces_and_parens() {
        let stat = "4242 (cairn (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 9 0 \
                    12345 987654321 1000 18446744073709551615";
        let fields = StatFields::parse(stat).unwrap();
        assert_eq!(
            fields,
            StatFields {
                utime: 250,
                stime: 50,
                starttime: 12345,
                vsize: 987_654_321
            }
        );
        assert_eq!(StatFields::parse("4242 (cairn) S 1"), None);
    }

    #[test]
    fn status_limits_and_boot_time_lines_are_read() {
        assert_eq!(vm_rss_bytes("Name:\tcairn\nVmRSS:\t   2048 kB\n"), Some(2 << 20));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(boot_time("cpu  1 2 3\nbtime 1700000000\n"), Some(1_700_000_000));
    }

    #[test]
    fn a_proc_shaped_directory_gives_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("self");
        std::fs::create_dir_all(own.join("fd")).unwrap();
        for fd in ["0", "1", "2"] {
            std::fs::write(own.join("fd").join(fd), "").unwrap();
        }
        let stat = "7 (cairn) S 1 7 7 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 500 4096 10";
        std::fs::write(own.join("stat"), stat).unwrap();
        std::fs::write(own.join("status"), "VmRSS:\t4 kB\n").unwrap();
        std::fs::write(own.join("limits"), "Max open files 64 128 files\n").unwrap();
        std::fs::write(dir.path().join("stat"), "btime 1000\n").unwrap();
        let reading = read_from(dir.path()).unwrap();
        assert_eq!(
            reading,
            ProcessReading {
                cpu_seconds: 2.0,
                resident_bytes: Some(4096),
                virtual_bytes: 4096,
                open_fds: Some(3),
                max_fds: Some(64),
                start_time_seconds: Some(1005.0),
            }
        );
    }

    #[test]
    fn this_process_is_read_on_linux() {
        let reading = read().expect("/proc/self/stat");
        assert!(reading.open_fds.unwrap_or(0) > 0);
        assert!(reading.resident_bytes.unwrap_or(0) > 0);
        assert!(reading.start_time_seconds.unwrap_or(0.0) > 1.0e9);
    }
}
