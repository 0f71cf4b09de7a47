//! CPU time per process from /proc, the figure every load scenario reports first: on two
//! shared cores wall-clock throughput is noisy, CPU per operation is not (issue 16.1).
//!
//! A [`Meter`] names processes (a cairn daemon, the nginx master with its workers, the load
//! generator) and reads user + system time of each at the start and at the end of a load
//! phase; [`Meter::per_op`] divides each process's share by the operations completed.

/// USER_HZ on Linux: /proc counts CPU time in these ticks.
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) of `pid` so far, in µs.
pub fn cpu_us(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (own, _) = ticks(&stat);
    Ok(own * 1_000_000 / TICKS_PER_SECOND)
}

/// CPU time of this process's children that have ended and been waited for (a `wrk` run),
/// in µs: `cutime + cstime` of /proc/self/stat.
pub fn waited_children_us() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let (_, children) = ticks(&stat);
    Ok(children * 1_000_000 / TICKS_PER_SECOND)
}

/// (utime + stime, cutime + cstime) in ticks from one /proc/<pid>/stat line.
fn ticks(stat: &str) -> (u64, u64) {
    // Fields after the command name (which may hold spaces) start after the last ')';
    // utime, stime, cutime, cstime are stat's fields 14–17, i.e. 11–14 after the name.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(11) + field(12), field(13) + field(14))
}

/// The processes a scenario charges CPU to, by name, each a set of pids.
#[derive(Debug, Default)]
pub struct Meter {
    processes: Vec<(String, Vec<u32>)>,
}

/// CPU µs used by each named process between two readings.
#[derive(Debug, Clone, Default)]
pub struct Reading(Vec<(String, u64)>);

impl Meter {
    /// Charges `pids` (e.g. an nginx master and its workers) to `name`.
    pub fn watch(mut self, name: &str, pids: Vec<u32>) -> Self {
        self.processes.push((name.to_owned(), pids));
        self
    }

    /// CPU µs of each named process so far (a process that has gone counts 0).
    pub fn read(&self) -> Reading {
        Reading(
            self.processes
                .iter()
                .map(|(name, pids)| (name.clone(), pids.iter().map(|p| cpu_us(*p).unwrap_or(0)).sum()))
                .collect(),
        )
    }
}

impl Reading {
    /// What each process used since `before`, in µs.
    pub fn since(&self, before: &Reading) -> Reading {
        Reading(
            self.0
                .iter()
                .zip(&before.0)
                .map(|((name, now), (_, then))| (name.clone(), now.saturating_sub(*then)))
                .collect(),
        )
    }

    /// Adds a process measured apart (e.g. a waited-for load generator).
    pub fn with(mut self, name: &str, used_us: u64) -> Reading {
        self.0.push((name.to_owned(), used_us));
        self
    }

    /// µs used by `name`, 0 when not watched.
    pub fn of(&self, name: &str) -> u64 {
        self.0.iter().find(|(n, _)| n == name).map_or(0, |(_, us)| *us)
    }

    /// Each process's µs per operation, `name µs/op` joined by spaces.
    pub fn per_op(&self, ops: f64) -> String {
        self.0
            .iter()
            .map(|(name, us)| format!("{name} {:.1}", *us as f64 / ops.max(1.0)))
            .collect::<Vec<_>>()
            .join("  ")
    }
}

/// The pids of `parent`'s children (nginx's workers), from /proc.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_after_a_name_with_spaces_and_parens() {
        let stat = "42 (tokio (worker) 1) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 5 1 20 0 1 0";
        assert_eq!(ticks(stat), (10, 6));
    }

    #[test]
    fn this_process_is_charged_for_work_it_does() {
        let meter = Meter::default().watch("me", vec![std::process::id()]);
        let before = meter.read();
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert_ne!(x, 1);
        assert!(meter.read().since(&before).of("me") > 0);
    }
}
