import type { Child } from "hono/jsx";

/** The shared frame of every email: content, then the unsubscribe footer. */
export const Layout = ({ children, unsubscribeUrl }: { children: Child; unsubscribeUrl: string }) => (
  <html lang="en">
    <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#222;max-width:560px;margin:0 auto;padding:24px">
      {children}
      <hr style="border:none;border-top:1px solid #eee;margin:32px 0 12px" />
      <p style="font-size:12px;color:#888">
        You receive this because you signed up. <a href={unsubscribeUrl}>Unsubscribe</a>
      </p>
    </body>
  </html>
);

export const textFooter = (unsubscribeUrl: string) => `\n\n--\nUnsubscribe: ${unsubscribeUrl}\n`;
