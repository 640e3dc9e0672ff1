export const TIME_WINDOWS = [
  { hours: 1, label: '1 h' },
  { hours: 24, label: '24 h' },
  { hours: 168, label: '7 d' },
  { hours: 720, label: '30 d' },
] as const;

export const DEFAULT_WINDOW_HOURS = 24;

export function parseWindowHours(value: string | null): number {
  const hours = Number(value);
  return TIME_WINDOWS.some((w) => w.hours === hours) ? hours : DEFAULT_WINDOW_HOURS;
}

export function windowLabel(hours: number): string {
  return TIME_WINDOWS.find((w) => w.hours === hours)?.label ?? `${hours} h`;
}
