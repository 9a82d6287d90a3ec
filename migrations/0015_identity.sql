CREATE TABLE `contact_aliases` (
	`alias` text PRIMARY KEY NOT NULL,
	`contact_id` text NOT NULL,
	`kind` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `contact_aliases_contact_idx` ON `contact_aliases` (`contact_id`);--> statement-breakpoint
CREATE TABLE `contact_merges` (
	`id` text PRIMARY KEY NOT NULL,
	`into_contact_id` text NOT NULL,
	`from_contact_id` text NOT NULL,
	`from_external_id` text NOT NULL,
	`source` text NOT NULL,
	`moved` text NOT NULL,
	`merged_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `contact_merges_into_idx` ON `contact_merges` (`into_contact_id`,`merged_at`);--> statement-breakpoint
DROP INDEX `contacts_email_idx`;--> statement-breakpoint
CREATE INDEX `contacts_email_normalized_idx` ON `contacts` (lower(trim("email")));--> statement-breakpoint
-- A person's key is their contact's external_id, and every row of theirs (events, enrollments,
-- emails) carries it as user_id. When the key changes (an email-keyed contact claimed by a user
-- id, a PostHog anonymous contact identified), the old key becomes an alias and their rows follow
-- in the same statement, so no writer (ingest, import, merge, PostHog link) can forget one.
CREATE TRIGGER contacts_rekey
AFTER UPDATE OF external_id ON contacts
WHEN old.external_id IS NOT new.external_id
BEGIN
  DELETE FROM contact_aliases WHERE alias = new.external_id;
  INSERT OR REPLACE INTO contact_aliases (alias, contact_id, kind, created_at)
  VALUES (old.external_id, new.id, CASE WHEN instr(old.external_id, '@') > 0 THEN 'email_key' ELSE 'previous_id' END, new.updated_at);
  UPDATE events SET user_id = new.external_id WHERE user_id = old.external_id;
  UPDATE enrollments SET user_id = new.external_id WHERE user_id = old.external_id;
  UPDATE emails SET user_id = new.external_id WHERE user_id = old.external_id;
END;
