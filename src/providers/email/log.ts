import { log } from "../../lib/log";
import type { EmailProvider } from "./types";

/**
 * The local default: sends nothing, logs one line, and asks for the rendered email to be kept on
 * its row so it can be read through the admin API. Journeys run offline with it.
 */
export const logProvider: EmailProvider = {
  name: "log",
  async send(email) {
    log.info("email sent (log provider)", { emailId: email.idempotencyKey });
    return { messageId: `log_${email.idempotencyKey}`, keepsRenderedCopy: true };
  },
};
