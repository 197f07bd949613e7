-- Each conversation counts changes to its member list (issue 17): nodes
-- keep a conversation's members in memory for fan-out, and the send path
-- compares the count it cached with this one in the transaction that
-- stores the message, so a list cached before someone joined or was removed
-- is never used, whether or not the bus told this node. Triggers bump it
-- on every insert, delete and role or joined_seq change, whichever code (or
-- foreign-key cascade) made it. PostgreSQL's form is in postgres/overrides.
-- (The migration runner splits on a semicolon that ends a line: inside a
-- trigger's body each one is followed by a comment.)
ALTER TABLE conversations ADD COLUMN member_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER members_version_insert AFTER INSERT ON members
BEGIN
    UPDATE conversations SET member_version = member_version + 1 WHERE id = NEW.conv_id; -- joined
END;
CREATE TRIGGER members_version_delete AFTER DELETE ON members
BEGIN
    UPDATE conversations SET member_version = member_version + 1 WHERE id = OLD.conv_id; -- left, removed or destroyed
END;
CREATE TRIGGER members_version_update AFTER UPDATE OF role, joined_seq ON members
BEGIN
    UPDATE conversations SET member_version = member_version + 1 WHERE id = NEW.conv_id; -- a role changed
END;
