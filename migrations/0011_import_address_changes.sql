-- An import's address changes are recorded by the database, as its upsert makes them. A statement
-- ahead of each upsert (how ingest records changes, with event ids) re-parsed the chunk's JSON
-- parameter and cost about 15% of an import; this fires only for contacts the upsert changes.
-- Only the import's upsert moves import_job_id (to its job), so ingest, enrollment and admin
-- updates, which record their own changes, never fire it.
CREATE TRIGGER contacts_import_address_change
AFTER UPDATE OF email ON contacts
WHEN old.email IS NOT new.email
  AND new.import_job_id IS NOT NULL
  AND new.import_job_id IS NOT old.import_job_id
BEGIN
  INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
  VALUES (new.id, 'email', old.email, new.email, 'import', NULL, new.updated_at);
END;
