/**
 * A bar chart as server-rendered SVG: no chart script to download or run (CSP `'self'`, no inline
 * code), readable without JavaScript, with the numbers in a table for screen readers.
 */
/** Up to this many bars, each bar's label is drawn; more (days) get the first and the last. */
const CATEGORIES_MAX = 8;
/** About one character of the axis font, in viewBox units. */
const AXIS_CHAR_WIDTH = 8;

const shorten = (label: string, chars: number) =>
  label.length <= chars ? label : `${label.slice(0, Math.max(1, chars - 1))}…`;

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
        {values.length <= CATEGORIES_MAX ? (
          // Few bars (statuses, steps): each is named under it, shortened to its width (the table has it whole).
          labels.map((label, i) => (
            <text x={Math.round(i * step + step / 2)} y={height + 18} class="axis middle">
              {shorten(label, Math.floor(step / AXIS_CHAR_WIDTH))}
            </text>
          ))
        ) : (
          <>
            <text x="0" y={height + 18} class="axis">
              {labels[0] ?? ""}
            </text>
            <text x={width} y={height + 18} class="axis end">
              {labels.at(-1) ?? ""}
            </text>
          </>
        )}
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
