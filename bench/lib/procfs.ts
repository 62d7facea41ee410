import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU times in clock ticks, 100 per second on every mainstream Linux. */
const TICKS_PER_SECOND = 100;

/** Resident memory of a process: now (VmRSS) and its peak so far (VmHWM), in KiB. */
export function readMemory(pid: number): { rssKb: number; hwmKb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, in ms; null when it is gone. */
export function readProcessCpuMs(pid: number, path = `/proc/${pid}/stat`): number | null {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * CPU ms per thread group of a process so far: 'main' (the event loop), 'threadpool' (libuv
 * workers: argon2, WebCrypto signing/verifying, fs, dns), 'v8' (GC and compiler helpers) and
 * 'other'. Threads that exited since are not counted.
 */
export function readThreadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = { main: 0, threadpool: 0, v8: 0, other: 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const cpu = readProcessCpuMs(Number(tid), `/proc/${pid}/task/${tid}/stat`) ?? 0;
      const group =
        tid === String(pid)
          ? 'main'
          : comm.startsWith('libuv-worker')
            ? 'threadpool'
            : comm.startsWith('V8') || comm.startsWith('DelayedTask')
              ? 'v8'
              : 'other';
      out[group] = (out[group] ?? 0) + cpu;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Whole-machine CPU time so far, in ms summed over all cores: busy and total. */
export function readMachineCpuMs(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...nums] = line.trim().split(/\s+/);
    const v = nums.map(Number);
    // user nice system idle iowait irq softirq steal (guest times are included in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return {
      busyMs: ((total - idle) * 1000) / TICKS_PER_SECOND,
      totalMs: (total * 1000) / TICKS_PER_SECOND,
    };
  } catch {
    return { busyMs: 0, totalMs: 0 };
  }
}
