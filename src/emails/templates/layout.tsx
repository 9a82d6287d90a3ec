import type { Child } from "hono/jsx";

/** The shared frame of every email: content, then the preference-centre footer (when there is one). */
export const Layout = ({ children, unsubscribeUrl }: { children: Child; unsubscribeUrl: string | null }) => (
  <html lang="en">
    <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#222;max-width:560px;margin:0 auto;padding:24px">
      {children}
      {unsubscribeUrl ? (
        <>
          <hr style="border:none;border-top:1px solid #eee;margin:32px 0 12px" />
          <p style="font-size:12px;color:#595959">
            You receive this because you signed up. <a href={unsubscribeUrl}>Manage your email preferences</a> or
            unsubscribe.
          </p>
        </>
      ) : null}
    </body>
  </html>
);

export const textFooter = (unsubscribeUrl: string | null) =>
  unsubscribeUrl ? `\n\n--\nUnsubscribe: ${unsubscribeUrl}\n` : "\n";
