-- A send dirties one B-tree fewer (issue 17): messages_sender_live held
-- nearly every message, under its sender, so each send wrote a page of it
-- at a random place, one more WAL frame a message. The purge of a
-- destroyed sender's bodies, which it served, walks their messages in
-- client-id order over the unique messages_client instead, and keeps its
-- place in the purge's row (store.EmptyMessageBodies): each batch starts
-- after the last, so the emptied rows are never rescanned. NULL: not
-- started.
ALTER TABLE purges ADD COLUMN bodies_after TEXT;
DROP INDEX messages_sender_live;
