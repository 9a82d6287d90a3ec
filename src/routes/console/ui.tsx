import type { Child } from "hono/jsx";

export const when = (iso: string | null | undefined) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "—");

export const Json = ({ value, label }: { value: unknown; label: string }) => (
  <section aria-label={label}>
    <pre class="json" tabindex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  </section>
);

/** A table that scrolls sideways on a phone instead of overflowing the page. */
export const Table = ({ caption, head, rows }: { caption: string; head: string[]; rows: Child[][] }) => (
  <section class="scroll" aria-label={caption} tabindex={0}>
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {head.map((h) => (
            <th scope="col">{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td colspan={head.length}>Nothing here.</td>
          </tr>
        ) : (
          rows.map((cells) => (
            <tr>
              {cells.map((cell) => (
                <td>{cell}</td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  </section>
);

export const NextPage = ({ href }: { href: string | null }) =>
  href ? (
    <p>
      <a href={href} rel="next">
        Next page
      </a>
    </p>
  ) : null;

export const ErrorNote = ({ error }: { error: string }) => (
  <p class="flash error" role="alert">
    {error}
  </p>
);

export const Badge = ({ text }: { text: string }) => <span class={`badge ${text}`}>{text}</span>;

/** A path parameter (always present on the routes that read it). */
export const param = (c: { req: { param: (name: string) => string | undefined } }, name: string) =>
  c.req.param(name) ?? "";
