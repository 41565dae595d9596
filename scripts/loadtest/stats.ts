// Summaries of several runs' figures, where a figure may be missing (a run that measured nothing).

/** Median of the known values (the mean of the middle two for an even count); null when none is known. */
export function median(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1
    ? (v[mid] as number)
    : Math.round((((v[mid - 1] as number) + (v[mid] as number)) / 2) * 100) / 100;
}

/** Sum of the known values (losses and failures over all runs); null when none is known. */
export function total(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0);
}
