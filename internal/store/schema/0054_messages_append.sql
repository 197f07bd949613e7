-- A send is one statement on SQLite too (issue 17): store.AppendMessage
-- inserts the row with the conversation's next seq, and this trigger then
-- moves the conversation's last_seq and activity time and marks the
-- message read by its sender. It fires only for such an insert (a seq
-- past last_seq): the other writers take the seq first (NextSeq) and are
-- left alone. PostgreSQL does the same in one statement with data-modifying
-- WITH clauses and skips this file (postgres/overrides).
-- (The migration runner splits on a semicolon that ends a line: inside the
-- trigger's body each one is followed by a comment.)
CREATE TRIGGER messages_append AFTER INSERT ON messages
WHEN NEW.seq > (SELECT last_seq FROM conversations WHERE id = NEW.conv_id)
BEGIN
    UPDATE conversations SET last_seq = NEW.seq, updated_at = NEW.sent_at WHERE id = NEW.conv_id; -- the seq taken
    UPDATE members SET read_seq = NEW.seq, received_seq = MAX(received_seq, NEW.seq)
        WHERE conv_id = NEW.conv_id AND user_id = NEW.sender_id AND read_seq < NEW.seq; -- read by its sender
END;
