/** A small SVG line of `values`; decorative, the card states the numbers in text. */
export function Sparkline({ values, label }: { values: readonly number[]; label: string }) {
  const width = 120;
  const height = 28;
  if (values.length < 2) return <svg className="sparkline" aria-hidden="true" />;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const path = values
    .map((v, i) => `${i === 0 ? 'M' : 'L'}${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join('');
  return (
    <svg className="sparkline" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
      <path d={`${path}L${width},${height}L0,${height}Z`} className="sparkline-area" />
      <path d={path} className="sparkline-line" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
