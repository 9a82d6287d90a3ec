import type { Child } from "hono/jsx";
import type { PreferenceCentre } from "../services/preference-centre";

/** The product's name for the page header: EMAIL_FROM's display name ("Hogsend <hello@…>" → "Hogsend"). */
export const brandName = (emailFrom: string) => emailFrom.match(/^\s*"?([^"<]+?)"?\s*</)?.[1] ?? "Email preferences";

// Colours meet WCAG AA contrast on white (text 16:1, muted 7:1, button 8.6:1); focus is always visible.
const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f4f4f5;color:#18181b;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:560px;margin:3rem auto;padding:0 1rem}
.card{background:#fff;border:1px solid #e4e4e7;border-radius:12px;padding:2rem}
.brand{font-weight:700;letter-spacing:.02em;color:#3f3f46;margin:0 0 1.5rem}
h1{font-size:1.5rem;margin:0 0 .5rem}
p.lead,.hint{color:#52525b}
fieldset{border:0;margin:1.5rem 0;padding:0}
legend{font-weight:600;margin-bottom:.5rem}
.topic{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem 0;border-top:1px solid #f4f4f5}
.topic input{flex-shrink:0;width:1.25rem;height:1.25rem;margin-top:.15rem;accent-color:#1d4ed8}
.topic label{font-weight:600;cursor:pointer}
.hint{margin:.1rem 0 0;font-size:.9rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
button{font:inherit;border-radius:8px;padding:.65rem 1.1rem;cursor:pointer;border:1px solid transparent}
button.primary{background:#1d4ed8;color:#fff}
button.secondary{background:#fff;color:#991b1b;border-color:#d4d4d8}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.status{background:#ecfdf5;border:1px solid #a7f3d0;color:#065f46;border-radius:8px;padding:.75rem 1rem;margin:1rem 0}
`;

export const Page = ({ brand, title, children }: { brand: string; title: string; children: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · ${brand}`}</title>
      <style dangerouslySetInnerHTML={{ __html: STYLE }} />
    </head>
    <body>
      <main>
        <div class="card">
          <p class="brand">{brand}</p>
          <h1>{title}</h1>
          {children}
        </div>
      </main>
    </body>
  </html>
);

/** The preference centre: a checkbox per topic, save, or leave everything. Works without JavaScript. */
export const PreferenceForm = ({
  action,
  centre,
  saved,
}: {
  action: string;
  centre: PreferenceCentre;
  saved?: string;
}) => {
  if (centre.unsubscribed) {
    return (
      <p class="lead" role="status">
        You're unsubscribed from all our emails. You'll still get messages you need about your account, like password
        resets and receipts.
      </p>
    );
  }
  return (
    <>
      {saved ? (
        <p class="status" role="status">
          {saved}
        </p>
      ) : null}
      <p class="lead">Choose the emails you want. You'll always get messages about your account.</p>
      <form method="post" action={action}>
        <input type="hidden" name="form" value="preferences" />
        <fieldset>
          <legend>Topics</legend>
          {centre.topics.map((topic) => (
            <div class="topic">
              <input
                type="checkbox"
                id={`topic-${topic.key}`}
                name="topic"
                value={topic.key}
                checked={topic.subscribed}
                aria-describedby={`topic-${topic.key}-hint`}
              />
              <div>
                <label for={`topic-${topic.key}`}>{topic.name}</label>
                <p class="hint" id={`topic-${topic.key}-hint`}>
                  {topic.description}
                </p>
              </div>
            </div>
          ))}
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" name="action" value="save">
            Save preferences
          </button>
          <button type="submit" class="secondary" name="action" value="unsubscribe_all">
            Unsubscribe from all emails
          </button>
        </div>
      </form>
    </>
  );
};
