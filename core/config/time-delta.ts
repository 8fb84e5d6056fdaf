/**
 * saliweb's time deltas for `[oldjobs]`: `NEVER`, or a number and a unit,
 * where a month is 30 days and a year 365 (calendar arithmetic is not
 * wanted: "archive after 1m" means a fixed delay).
 */

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

const UNIT_MS = {
  h: HOUR_MS,
  d: DAY_MS,
  w: 7 * DAY_MS,
  m: 30 * DAY_MS,
  y: 365 * DAY_MS,
} as const;

export const TIME_DELTA_FORMS = 'NEVER or a number followed by h, d, w, m or y (e.g. 30d, 0.5d, 1y)';

const PATTERN = /^(\d+(?:\.\d+)?|\.\d+)\s*([hdwmy])$/i;

/**
 * Milliseconds for `text`, or `null` for NEVER. Throws a RangeError whose
 * message says what was found and what is accepted; callers add the file
 * and key.
 */
export function parseTimeDelta(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed.toUpperCase() === 'NEVER') return null;
  const [, amount, unit] = PATTERN.exec(trimmed) ?? [];
  if (amount === undefined || unit === undefined) {
    throw new RangeError(`${JSON.stringify(text)} is not a time delta; use ${TIME_DELTA_FORMS}`);
  }
  // The pattern admits only the units in UNIT_MS.
  return Math.round(Number(amount) * UNIT_MS[unit.toLowerCase() as keyof typeof UNIT_MS]);
}
