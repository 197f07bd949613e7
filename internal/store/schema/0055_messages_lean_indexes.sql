-- Fewer B-trees per stored message (issue 17): every send inserts into
-- each of the messages table's indexes. messages_sender (sender_id) is a
-- prefix of the unique messages_client (sender_id, client_id), which
-- serves every look-up by sender; messages_media held a NULL for every
-- message without media, i.e. almost all of them, and is only ever
-- searched for one media id, which a partial index answers.
DROP INDEX messages_sender;
DROP INDEX messages_media;
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
