/**
 * A bar chart as server-rendered SVG: no chart script to download or run (CSP `'self'`, no inline
 * code), readable without JavaScript, with the numbers in a table for screen readers.
 */
export function BarChart({ title, labels, values }: { title: string; labels: string[]; values: number[] }) {
  const width = 400;
  const height = 140;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, values.length);
  const bar = Math.min(48, Math.max(2, step * 0.7));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height + 22}`} role="img" aria-label={`${title}: max ${max}`}>
        {values.map((value, i) => {
          const h = Math.round((value / max) * height);
          return (
            <rect
              x={Math.round(i * step + (step - bar) / 2)}
              y={height - h}
              width={Math.round(bar)}
              height={h}
              class="bar"
            >
              <title>{`${labels[i]}: ${value}`}</title>
            </rect>
          );
        })}
        <text x="0" y={height + 18} class="axis">
          {labels[0] ?? ""}
        </text>
        <text x={width} y={height + 18} class="axis end">
          {labels.at(-1) ?? ""}
        </text>
      </svg>
      <details>
        <summary>Numbers</summary>
        <table>
          <tbody>
            {labels.map((label, i) => (
              <tr>
                <th scope="row">{label}</th>
                <td>{values[i]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
