/** Splits items into consecutive slices of at most `size` (the last may be shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

/**
 * Splits items into rounds in which no key appears twice: the n-th occurrence of a key goes to
 * round n. Statements run round after round then apply a key's occurrences in input order.
 */
export function roundsByKey<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const rounds: T[][] = [];
  const occurrences = new Map<string, number>();
  for (const item of items) {
    const round = occurrences.get(keyOf(item)) ?? 0;
    occurrences.set(keyOf(item), round + 1);
    if (!rounds[round]) rounds[round] = [];
    rounds[round].push(item);
  }
  return rounds;
}
