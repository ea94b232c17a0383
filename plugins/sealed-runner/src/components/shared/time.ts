const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "3 minutes ago" */
export function timeAgo(iso: string, now = Date.now()): string {
  const delta = new Date(iso).getTime() - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === 'second') {
      return relative.format(Math.round(delta / ms), unit);
    }
  }
  return iso;
}

/** "1m 05s" between two instants (or until now). */
export function formatDuration(
  fromIso: string,
  toIso?: string,
  now = Date.now(),
): string {
  const ms = Math.max(
    0,
    (toIso ? new Date(toIso).getTime() : now) - new Date(fromIso).getTime(),
  );
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  if (hours > 0) {
    return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  }
  if (minutes > 0) {
    return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  }
  return `${seconds}s`;
}

/** A timestamp in the viewer's locale, for tooltips. */
export function formatTimestamp(iso: string): string {
  return new Date(iso).toLocaleString();
}
