/**
 * A small SVG line of `values`; decorative, the numbers are stated in text beside it. `tone`
 * "failed" draws failures in the failure colour.
 */
export function Sparkline({ values, label, tone }: { values: readonly number[]; label: string; tone?: 'failed' }) {
  const width = 120;
  const height = 28;
  const className = tone ? `sparkline sparkline-${tone}` : 'sparkline';
  if (values.length < 2) return <svg className={className} aria-hidden="true" />;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const path = values
    .map((v, i) => `${i === 0 ? 'M' : 'L'}${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join('');
  return (
    <svg className={className} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
      <path d={`${path}L${width},${height}L0,${height}Z`} className="sparkline-area" />
      <path d={path} className="sparkline-line" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
