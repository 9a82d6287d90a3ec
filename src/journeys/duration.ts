const UNIT_MS = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
} as const;

type Unit = keyof typeof UNIT_MS;

/** Workflows' own duration format ("2 days", "30 minutes"), so the same value can go to step.sleep. */
export type Duration = `${number} ${Unit}${"s" | ""}`;

const PATTERN = /^(\d+(?:\.\d+)?) (second|minute|hour|day|week)s?$/;

export function durationMs(duration: string): number {
  const match = PATTERN.exec(duration);
  if (!match) throw new Error(`Invalid duration "${duration}": use e.g. "30 minutes", "2 days", "1 week"`);
  const amount = Number(match[1]);
  if (!(amount > 0)) throw new Error(`Invalid duration "${duration}": must be positive`);
  return amount * UNIT_MS[match[2] as Unit];
}
