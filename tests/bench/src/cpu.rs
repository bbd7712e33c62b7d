//! Where a scenario's CPU went: the server, the database's processes, this load generator,
//! and what the machine had left (idle) or lost to its host (steal). Latency on a shared
//! 2-core machine swings with the machine; CPU time per request does not, so it is the figure
//! that tells whether a change made a payment cheaper.

use std::time::Duration;

/// The kernel reports process and machine times in USER_HZ ticks, 100 a second on every
/// architecture Linux runs on (`getconf CLK_TCK`).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time so far, in ticks.
pub struct Sample {
    server: u64,
    database: u64,
    loader: u64,
    machine: Machine,
}

#[derive(Default)]
struct Machine {
    idle: u64,
    steal: u64,
    total: u64,
}

/// What a scenario used, between two samples.
pub struct Usage {
    pub server: Duration,
    /// Zero on SQLite, which runs inside the server.
    pub database: Duration,
    pub loader: Duration,
    /// Shares of both cores' time over the scenario, in per cent.
    pub idle_percent: f64,
    pub steal_percent: f64,
}

/// A database server's processes, when it runs apart from the server (PostgreSQL).
pub struct Processes {
    /// Their command name (`postgres`).
    pub name: &'static str,
    /// The postmaster's process id, when known (a server this program started): then only it
    /// and its children count, not another server of the same name on the machine.
    pub parent: Option<u32>,
}

/// Samples now. `server` is the server's process id.
pub fn sample(server: u32, database: Option<&Processes>) -> Sample {
    Sample {
        server: process_ticks(&format!("/proc/{server}/stat")).unwrap_or(0),
        database: database.map_or(0, processes_ticks),
        loader: process_ticks("/proc/self/stat").unwrap_or(0),
        machine: machine_ticks().unwrap_or_default(),
    }
}

impl Sample {
    pub fn until(&self, later: &Sample) -> Usage {
        let time =
            |a: u64, b: u64| Duration::from_secs_f64(b.saturating_sub(a) as f64 / TICKS_PER_SECOND);
        let total = later
            .machine
            .total
            .saturating_sub(self.machine.total)
            .max(1) as f64;
        let share = |a: u64, b: u64| 100.0 * b.saturating_sub(a) as f64 / total;
        Usage {
            server: time(self.server, later.server),
            database: time(self.database, later.database),
            loader: time(self.loader, later.loader),
            idle_percent: share(self.machine.idle, later.machine.idle),
            steal_percent: share(self.machine.steal, later.machine.steal),
        }
    }
}

/// utime + stime of one process (all its threads), from `/proc/<pid>/stat`.
fn process_ticks(path: &str) -> Option<u64> {
    stat_fields(path).map(|s| s.ticks)
}

struct Stat {
    name: String,
    parent: u32,
    ticks: u64,
}

fn stat_fields(path: &str) -> Option<Stat> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2, in parentheses) may hold spaces and parentheses; the fields
    // after its last closing parenthesis start at field 3 (state), so the parent (field 4) is
    // at 1 there, utime and stime (fields 14 and 15) at 11 and 12.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        name: stat.get(open + 1..close)?.to_string(),
        parent: fields.get(1)?.parse().ok()?,
        ticks: utime + stime,
    })
}

/// The summed CPU time of the database's processes: PostgreSQL's postmaster, its backends and
/// its background workers (a backend that ended meanwhile is not counted; the benchmark's
/// connections live through a scenario).
fn processes_ticks(processes: &Processes) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let pid = entry.file_name().into_string().ok()?;
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let stat = stat_fields(&format!("/proc/{pid}/stat"))?;
        let ours = stat.name == processes.name
            && match processes.parent {
                Some(parent) => pid.parse() == Ok(parent) || stat.parent == parent,
                None => true,
            };
        ours.then_some(stat.ticks)
    })
    .sum()
}

/// The machine's `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq steal.
fn machine_ticks() -> Option<Machine> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|t| t.parse().ok())
        .collect();
    if ticks.len() < 8 {
        return None;
    }
    Some(Machine {
        idle: ticks[3] + ticks[4],
        steal: ticks[7],
        total: ticks.iter().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_used_some_cpu_and_the_machine_adds_up() {
        // Burn a little CPU so that at least a tick is on the clock.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let before = sample(std::process::id(), None);
        let mut y = x;
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(200) {
            y = std::hint::black_box(y.wrapping_mul(31).wrapping_add(7));
        }
        let after = sample(std::process::id(), None);
        let usage = before.until(&after);
        assert!(
            usage.server >= Duration::from_millis(100),
            "{:?}",
            usage.server
        );
        // The same process, read twice per sample: a tick may fall between the two reads.
        let apart = usage.server.abs_diff(usage.loader);
        assert!(apart <= Duration::from_millis(20), "{apart:?}");
        assert_eq!(usage.database, Duration::ZERO);
        assert!((0.0..=100.0).contains(&usage.idle_percent));
        assert!((0.0..=100.0).contains(&usage.steal_percent));
    }

    #[test]
    fn only_the_postmaster_and_its_children_count_as_the_database() {
        // A busy child shell stands in for a backend: counted under this process as its
        // parent, not under a parent that is not there.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh runs");
        std::thread::sleep(Duration::from_millis(300));
        let ours = Processes {
            name: "sh",
            parent: Some(std::process::id()),
        };
        let nobody = Processes {
            name: "sh",
            parent: Some(u32::MAX),
        };
        let counted = processes_ticks(&ours);
        let other = processes_ticks(&nobody);
        let _ = child.kill();
        let _ = child.wait();
        assert!(counted >= 3, "{counted} ticks in 300 ms of a busy child");
        assert_eq!(other, 0);
    }
}
