import cliProgress from "cli-progress";

/** Human units for bytes: 1.5 MiB. @param {number} bytes */
export function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * A progress display: a cli-progress bar on a terminal, a plain line every 10% (and at the end)
 * otherwise, so logs and CI output stay readable. `describe(value, total)` adds the details.
 *
 * @param {{ label: string, total: number, tty: boolean, out?: NodeJS.WritableStream,
 *           describe?: (value: number, total: number) => string }} options
 */
export function createProgress({ label, total, tty, out = process.stdout, describe = () => "" }) {
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(10)} |{bar}| {percentage}% | {details}`,
        barCompleteChar: "\u2588",
        barIncompleteChar: "\u2591",
        hideCursor: true,
        stream: out,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { details: describe(0, total) });
    return {
      /** @param {number} value @param {number} [newTotal] */
      update: (value, newTotal = total) => {
        total = newTotal;
        bar.setTotal(Math.max(total, 1));
        bar.update(value, { details: describe(value, total) });
      },
      stop: () => bar.stop(),
    };
  }
  let lastStep = -1;
  return {
    /** @param {number} value @param {number} [newTotal] */
    update: (value, newTotal = total) => {
      total = newTotal;
      const step = total > 0 ? Math.floor((value / total) * 10) : 0;
      if (step === lastStep) return;
      lastStep = step;
      out.write(`${label}: ${total > 0 ? Math.floor((value / total) * 100) : 0}% ${describe(value, total)}\n`);
    },
    stop: () => {},
  };
}
