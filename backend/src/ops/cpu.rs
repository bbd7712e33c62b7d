//! Where SQLite's payment writer runs. The writer and the thread that sqlx gives its SQLite
//! connection take turns: every statement goes to the connection's thread and every row
//! comes back. With the two on different CPUs each turn wakes the other CPU (on a virtual
//! machine, a halted virtual CPU), which can cost more than the statement; on one CPU a turn
//! is a plain switch. Measured at half of the maximum rate (README, ADR 6): median latency
//! about 40 % lower, the maximum rate no lower.

use std::io;

/// Restricts the calling thread to the last CPU it may run on and returns it. Threads it
/// starts from then on inherit the restriction; other threads keep every CPU. `None` (and
/// nothing changed) when the thread may run on one CPU only anyway, or off Linux.
pub fn keep_to_one_cpu() -> io::Result<Option<usize>> {
    let allowed = allowed_cpus()?;
    let [_, .., last] = allowed[..] else {
        return Ok(None);
    };
    keep_to(last)?;
    Ok(Some(last))
}

/// Restricts the calling thread (and the threads it starts from then on) to `cpu`.
#[cfg(target_os = "linux")]
pub fn keep_to(cpu: usize) -> io::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut one = CpuSet::new();
    one.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &one)?;
    Ok(())
}

/// The CPUs the calling thread may run on.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    thread_cpus(0)
}

/// The CPUs the thread `tid` may run on (0: the calling thread).
#[cfg(target_os = "linux")]
pub fn thread_cpus(tid: i32) -> io::Result<Vec<usize>> {
    use nix::sched::{CpuSet, sched_getaffinity};
    let allowed = sched_getaffinity(nix::unistd::Pid::from_raw(tid))?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
        .collect())
}

#[cfg(not(target_os = "linux"))]
pub fn keep_to(_cpu: usize) -> io::Result<()> {
    Ok(())
}

/// Off Linux the CPUs are not ours to choose: one "CPU", so nothing is restricted.
#[cfg(not(target_os = "linux"))]
pub fn thread_cpus(_tid: i32) -> io::Result<Vec<usize>> {
    Ok(vec![0])
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_and_the_threads_it_starts_keep_to_the_cpu_chosen() {
        let before = allowed_cpus().expect("affinity");
        let (chosen, inherited) = std::thread::spawn(|| {
            let chosen = keep_to_one_cpu().expect("affinity");
            let inherited = std::thread::spawn(allowed_cpus)
                .join()
                .expect("thread")
                .expect("affinity");
            (chosen, inherited)
        })
        .join()
        .expect("thread");
        match chosen {
            Some(cpu) => {
                assert_eq!(before.last(), Some(&cpu));
                assert_eq!(inherited, vec![cpu]);
            }
            // Only when this test may use one CPU anyway; then nothing changed.
            None => assert_eq!(inherited, before),
        }
        // The thread that started them was not restricted.
        assert_eq!(allowed_cpus().expect("affinity"), before);
    }
}
