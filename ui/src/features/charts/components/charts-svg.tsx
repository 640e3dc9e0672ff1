// Hand-written SVG charts: a few hundred bytes instead of a chart library.
import type { ReactNode } from 'react';
import { formatDuration, formatTime } from '../../../lib/format';
import type { ChartBucket } from '../chart-data';

const WIDTH = 600;
const HEIGHT = 180;
const PAD = { top: 8, right: 8, bottom: 20, left: 48 };
const innerWidth = WIDTH - PAD.left - PAD.right;
const innerHeight = HEIGHT - PAD.top - PAD.bottom;

function Frame({ label, yMaxText, buckets, children }: { label: string; yMaxText: string; buckets: ChartBucket[]; children: ReactNode }) {
  const first = buckets[0];
  const last = buckets[buckets.length - 1];
  return (
    <svg className="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <line className="axis" x1={PAD.left} y1={PAD.top + innerHeight} x2={WIDTH - PAD.right} y2={PAD.top + innerHeight} />
      <line className="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={PAD.top + innerHeight} />
      <text className="axis-label" x={PAD.left - 4} y={PAD.top + 10} textAnchor="end">
        {yMaxText}
      </text>
      <text className="axis-label" x={PAD.left - 4} y={PAD.top + innerHeight} textAnchor="end">
        0
      </text>
      {first && (
        <text className="axis-label" x={PAD.left} y={HEIGHT - 4}>
          {formatTime(new Date(first.startMs).toISOString())}
        </text>
      )}
      {last && (
        <text className="axis-label" x={WIDTH - PAD.right} y={HEIGHT - 4} textAnchor="end">
          {formatTime(new Date(last.startMs).toISOString())}
        </text>
      )}
      {children}
    </svg>
  );
}

const STACK = ['success', 'failed', 'running', 'pending'] as const;

export function ThroughputChart({ buckets }: { buckets: ChartBucket[] }) {
  const totals = buckets.map((b) => b.success + b.failed + b.running + b.pending);
  const max = Math.max(1, ...totals);
  const slot = innerWidth / Math.max(1, buckets.length);
  const barWidth = Math.max(1, slot * 0.8);
  const sum = totals.reduce((a, b) => a + b, 0);
  return (
    <Frame label={`Runs by status per bucket, ${sum} in all, at most ${max} in one bucket`} yMaxText={String(max)} buckets={buckets}>
      {buckets.map((bucket, i) => {
        let y = PAD.top + innerHeight;
        return (
          <g key={bucket.startMs}>
            {STACK.map((status) => {
              const h = (bucket[status] / max) * innerHeight;
              if (h <= 0) return null;
              y -= h;
              return <rect key={status} className={`bar bar-${status}`} x={PAD.left + i * slot} y={y} width={barWidth} height={h} />;
            })}
          </g>
        );
      })}
    </Frame>
  );
}

function linePath(buckets: ChartBucket[], pick: (b: ChartBucket) => number | null, max: number): string {
  const step = innerWidth / Math.max(1, buckets.length - 1);
  let path = '';
  let pen = false;
  buckets.forEach((bucket, i) => {
    const v = pick(bucket);
    if (v === null) {
      pen = false;
      return;
    }
    const x = PAD.left + (buckets.length === 1 ? innerWidth / 2 : i * step);
    const y = PAD.top + innerHeight - (v / max) * innerHeight;
    path += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return path;
}

/** Dots for the values with no neighbour to draw a line to. */
function lonePoints(buckets: ChartBucket[], pick: (b: ChartBucket) => number | null, max: number, className: string) {
  const step = innerWidth / Math.max(1, buckets.length - 1);
  return buckets.map((bucket, i) => {
    const v = pick(bucket);
    const before = buckets[i - 1];
    const after = buckets[i + 1];
    if (v === null || (before && pick(before) !== null) || (after && pick(after) !== null)) return null;
    const x = PAD.left + (buckets.length === 1 ? innerWidth / 2 : i * step);
    const y = PAD.top + innerHeight - (v / max) * innerHeight;
    return <circle key={`${className}-${bucket.startMs}`} className={`dot ${className}`} cx={x} cy={y} r={3} />;
  });
}

export function DurationChart({ buckets }: { buckets: ChartBucket[] }) {
  const max = Math.max(1, ...buckets.map((b) => b.p95 ?? b.p50 ?? 0));
  return (
    <Frame label={`p50 and p95 run duration per bucket, highest p95 ${formatDuration(max)}`} yMaxText={formatDuration(max)} buckets={buckets}>
      <path className="line line-p95" d={linePath(buckets, (b) => b.p95, max)} />
      <path className="line line-p50" d={linePath(buckets, (b) => b.p50, max)} />
      {lonePoints(buckets, (b) => b.p95, max, 'dot-p95')}
      {lonePoints(buckets, (b) => b.p50, max, 'dot-p50')}
    </Frame>
  );
}
